# The app in a container: `docker build -t streaming-assistant .` then
# `docker run -p 7860:7860 -v assistant-data:/data streaming-assistant`.
# Same defaults as `python app.py`, listening on all interfaces inside the container.

# Builder: compiles llama-cpp-python (and anything else without a wheel) into a venv.
FROM python:3.11-slim-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# Runtime: the venv and the app, no compilers, a user without privileges.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 espeak-ng \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 assistant \
 && mkdir /data && chown assistant /data
COPY --from=builder /venv /venv
WORKDIR /app
COPY --chown=assistant app.py ./
COPY --chown=assistant assistant ./assistant
USER assistant
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    ASSISTANT_HOST=0.0.0.0 \
    ASSISTANT_DATA_DIR=/data
VOLUME /data
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4); sys.exit(0)"
CMD ["python", "app.py"]
