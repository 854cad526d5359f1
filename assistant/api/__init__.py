"""The assistant as an OpenAI-compatible API: /v1/models, /v1/chat/completions and
/v1/responses, served beside the page on the same port, through the same turn.

An edge like web/: OpenAI's wire format is read and written here, and nothing below
knows it. Requests skip Gradio's queue, so this is the app's fastest path.
"""
