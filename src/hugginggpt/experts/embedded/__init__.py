"""Embedded experts: models whose weights ship inside installed packages (no network)."""

import os

# mediapipe/TFLite and onnxruntime log through glog/absl straight to stderr; keep a user's terminal readable.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
