"""Model backends: adapters for the ``ChatModel`` and ``ImageModel`` ports.

``openai_chat``: the OpenAI-compatible chat completions protocol over httpx (OpenAI, vLLM,
Ollama, llama.cpp's server, LM Studio, most gateways). ``openai_images``: the
OpenAI-compatible images API. ``stub``: a scripted chat model for unit tests. May import
``domain`` and ``ports``; nothing here knows about agents or the engine.
"""
