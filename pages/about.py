"""A short guide for a class or a review: what a feature map is and how to read the grid."""

import streamlit as st

from featviz_core.draw import NORMALIZATIONS
from featviz_ui.page import run_through_app

run_through_app()

st.title("How to read the maps")
st.markdown(
    """
A convolutional layer turns its input into **channels**: one 2-D map per filter. Each tile in the grid is
one channel's map for your image; bright (or, with a diverging map, strongly coloured) areas are where that
filter responded.

* **Early layers** respond to edges, colours and textures: try the *Stripes* samples and watch channels
  light up for one angle only.
* **Deeper layers** have more channels of smaller maps and respond to larger, more abstract patterns.
* **Untrained weights** can give smooth, tidy maps on a smooth image: random filters blur it rather than
  turn it to noise. What gives them away is in their filters and in how alike their channels are: see
  *Trained vs untrained*.

**Normalization** decides how raw values become colours:
"""
)
for key, label in NORMALIZATIONS.items():
    explanation = {
        "per_channel": "each channel stretched to its own min–max: shows every channel's pattern, hides their scale.",
        "per_layer": "one min–max for the whole layer: strong and weak channels become visible as such.",
        "symmetric": "one range ±max|value| centred on zero: for layers whose values are signed (convolution, "
        "batch norm).",
        "percentile": "one range from the layer's low to high percentile: a few extreme values no longer wash out "
        "the rest.",
        "raw": "a fixed range you choose: compare images or layers on the same scale.",
    }[key]
    st.markdown(f"* **{label}**: {explanation}")
st.markdown(
    """
Layers whose output is not a stack of maps are still shown: a vector (a Linear layer, the logits, a pooled
1×1 output) as a bar chart with one bar per value on one shared scale, a vision transformer's tokens laid
out on their patch grid, channels-last blocks turned around. The page says so above the grid whenever it
does this.
"""
)
