"""Qt-free runtime: model artifacts, OpenVINO pipeline, image preparation and garment masks."""
