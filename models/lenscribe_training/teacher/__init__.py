"""The teacher: an LLM (Qwen2.5-Coder GGUF on llama.cpp, the ``teacher`` extra) that labels the corpus's functions,
and the student's data and learning curve built from its labels."""
