"""A third-party plugin whose import fails, as one with a missing native dependency would."""

raise ImportError("needs libfoo.so, which is not installed")
