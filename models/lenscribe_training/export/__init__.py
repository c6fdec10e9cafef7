"""Models out of and back into the trainers: ``export_hf`` (a fast_train run -> a save_pretrained directory and its
training record), ``onnx_weights`` (a built model's int8 weights read back for a warm start), ``fp32_reference`` (a
build's fp32 ONNX as its own model), ``transfer`` (atomic model directories, fp16 parts between machines)."""
