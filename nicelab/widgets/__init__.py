"""Interactive views of density warping, one module per lesson (ipywidgets 8).

Every view is a :class:`~nicelab.widgets._base.FigureView`: display it as the last expression of a
cell, move its controls, and it updates its figure's artists in place.
"""

from __future__ import annotations

from nicelab.widgets._base import FigureView, render_png
from nicelab.widgets.change_of_variables import ChangeOfVariablesView  # lesson 01
from nicelab.widgets.compare import LatentComparison, LogDetMap  # lessons 07, 08
from nicelab.widgets.coupling import CouplingExplorer  # lesson 03
from nicelab.widgets.flow2d import FlowLayersView  # lesson 05
from nicelab.widgets.jacobian import LinearMapView  # lesson 02
from nicelab.widgets.mnist import InpaintingView, InterpolationView, SampleGridView, TopKView  # lesson 06
from nicelab.widgets.scaling import ScalingExplorer  # lesson 04

__all__ = [
    "ChangeOfVariablesView",  # lesson 01
    "LinearMapView",  # lesson 02
    "CouplingExplorer",  # lesson 03
    "ScalingExplorer",  # lesson 04
    "FlowLayersView",  # lesson 05
    "FigureView",
    "render_png",
    "InpaintingView",  # lesson 06
    "InterpolationView",
    "SampleGridView",
    "TopKView",
    "LatentComparison",  # lessons 07, 08
    "LogDetMap",
]
