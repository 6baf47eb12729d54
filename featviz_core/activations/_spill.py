"""Layers kept on disk instead of in memory, read back only when they are viewed.

Why: one capture of ``efficientnet_b7`` or ``regnet_y_128gf`` is larger in float16 than the whole shared
activation cache, and a few users of such models would exhaust a server's memory. The cached capture keeps
its first layers in memory up to ``FEATVIZ_CAPTURE_RAM_MB``; the rest are run again when first read and
their float16 is written here (:class:`featviz_core.cache.Compactor`); each written layer comes back as a
tensor mapped from the file, whose pages the kernel reads when the layer is drawn and may drop again under
memory pressure (they are clean file pages, never swap).

The file has no name: it is unlinked as soon as it is created (:func:`tempfile.TemporaryFile`), so nothing
is left behind by a crash, and the disk is freed when the last tensor mapped from it is garbage collected,
i.e. when its capture leaves the cache.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Optional

import numpy as np
import torch

from ..errors import ModelError

_ALIGN = 64
"""Each layer starts on a multiple of this many bytes: any dtype's view of it is aligned."""


class SpillFile:
    """One capture's spilled layers: written once, in order, each mapped back as it is written (copy-on-write:
    nothing ever writes into the file again)."""

    def __init__(self, directory: str = "") -> None:
        self._directory = os.path.expanduser(directory) or None
        self._file: Optional[IO[bytes]] = None
        self._offset = 0  # where the next layer goes in the open file
        self._ptrs: set[int] = set()
        self.nbytes = 0
        """Bytes written (what the files take on disk)."""

    def write(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor``'s values, now held by the file: a CPU tensor of the same shape and dtype mapped from it."""
        data = tensor.detach().cpu().contiguous()
        raw = data.view(torch.uint8) if data.dtype != torch.bool else data.to(torch.uint8)
        try:
            file = self._open()
            offset = self._offset
            file.write(raw.numpy())  # the buffer itself: no bytes copy of a layer that may be 100s of MB
            file.write(b"\0" * (-raw.numel() % _ALIGN))
            file.flush()
            mapped = np.memmap(file, dtype=np.uint8, mode="c", offset=offset, shape=(raw.numel(),))
        except OSError as exc:
            raise ModelError(
                "A large capture could not be written to the spill folder (FEATVIZ_SPILL_DIR): the disk may be "
                "full or the folder not writable. Ask the server's owner to check it, or use a smaller model.",
                detail=exc,
            ) from None
        written = raw.numel() + (-raw.numel() % _ALIGN)
        self._offset += written
        self.nbytes += written
        back = torch.from_numpy(mapped)  # holds the mapping: the file lives until the last such tensor goes
        back = back.view(data.dtype) if data.dtype != torch.bool else back.to(torch.bool)
        self._ptrs.add(back.untyped_storage().data_ptr())
        return back.view(data.shape)

    def holds(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor``'s values live in this file (they take no memory until read)."""
        return tensor.untyped_storage().data_ptr() in self._ptrs

    def close(self) -> None:
        """Close the file. The mapped layers stay readable, and the disk is freed when they are gone; a later
        write (a layer turned after the capture) goes to a new file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> IO[bytes]:
        if self._file is None:
            if self._directory:
                os.makedirs(self._directory, exist_ok=True)
            self._file = tempfile.TemporaryFile(dir=self._directory, prefix="featviz-spill-")
            self._offset = 0
        return self._file
