"""Network IR from darknet cfg/weights, float models, quantiser, integer reference, post-processing."""

from .cfg import load_cfg, parse_cfg
from .ir import INPUT, Conv, MaxPool, Network, Route, Shape, Upsample, Yolo
from .weights import ConvParams, Weights, load_weights, parse_weights

__all__ = ["INPUT", "Conv", "ConvParams", "MaxPool", "Network", "Route", "Shape", "Upsample", "Weights",
           "Yolo", "load_cfg", "load_weights", "parse_cfg", "parse_weights"]
