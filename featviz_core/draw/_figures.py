"""Small Plotly figures beside the grid: what the model predicts."""

from __future__ import annotations

import plotly.graph_objects as go


def prediction_chart(predictions: list[tuple[str, float]], *, trained: bool = True, height: int = 260) -> go.Figure:
    """Horizontal bars of class probabilities, most likely on top."""
    labels = [label for label, _ in predictions][::-1]
    values = [probability for _, probability in predictions][::-1]
    figure = go.Figure(
        go.Bar(
            x=values, y=labels, orientation="h", text=[f"{v:.1%}" for v in values], textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>", marker=dict(color="#4c78a8" if trained else "#999999"),
        )
    )
    title = "Prediction" if trained else "Prediction (untrained: meaningless)"
    figure.update_layout(
        title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=4, r=4, t=32, b=4),
        xaxis=dict(range=[0, 1], tickformat=".0%", visible=False), yaxis=dict(type="category"),
        showlegend=False,
    )
    return figure


def depth_profile(summary: list) -> go.Figure:
    """Sparsity and mean activation through the depth of the model, one point per captured layer.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> figure = fv.depth_profile(fv.layer_summary(model, maps))
    """
    from plotly.subplots import make_subplots

    names = [row.name for row in summary]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=("Sparsity (fraction of zeros)", "Mean activation"))
    figure.add_trace(go.Scatter(x=list(range(len(names))), y=[row.sparsity for row in summary], mode="lines+markers",
                                text=names, hovertemplate="%{text}<br>sparsity %{y:.1%}<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Scatter(x=list(range(len(names))), y=[row.mean for row in summary], mode="lines+markers",
                                text=names, hovertemplate="%{text}<br>mean %{y:.4g}<extra></extra>"), row=2, col=1)
    figure.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=1)
    figure.update_xaxes(title_text="layer, in forward-pass order", row=2, col=1)
    figure.update_layout(height=420, showlegend=False, margin=dict(l=4, r=4, t=40, b=4))
    return figure
