"""Model backends: adapters for the ``ChatModel`` port.

``openai_chat``: the OpenAI-compatible chat completions protocol over httpx (OpenAI, vLLM,
Ollama, llama.cpp's server, LM Studio, most gateways). ``stub``: a scripted model for unit
tests. May import ``domain`` and ``ports``; nothing here knows about agents or the engine.
"""
