"""The local moderation engine: plain Python and ONNX Runtime, no Django.

networks: image limits, the base networks, Analysis; taxonomy_map: outputs onto
taxonomy v7; heads: per-label heads on embeddings; evaluation: the spec 5.1
evaluation document. For base model 8: lite2 builds EfficientNet-Lite2's ONNX graph
from its torch weights (read by torchfile, without torch); quantize and calibration
make the int8 copies; modelcache keeps built models in a folder; macs counts the work.
"""

from .networks import MAX_BYTES, MAX_STORED_BYTES, Analysis, Engine, EngineError, load_image

__all__ = ["MAX_BYTES", "MAX_STORED_BYTES", "Analysis", "Engine", "EngineError", "load_image"]
