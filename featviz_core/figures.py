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
