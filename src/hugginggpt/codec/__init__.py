"""Media codecs: reading and writing images (``codec.image``) and audio (``codec.audio``) for experts and backends."""
