"""What exists only to run the pipeline on a machine without a GPU or the Hub: the embedded default.

Nothing here runs against production hosts. It stands in for what this machine cannot have:

- ``localbase``: a Debian base image made with debootstrap (Docker Hub is unreachable);
- ``hub``: a small Hugging Face Hub (the real ``huggingface_hub`` client talks to it);
- ``sandbox``: "bare-metal hosts" that are systemd containers reached over real SSH;
- ``tinymodel``: a 2-layer model that answers in Kimi-K2's reasoning and tool-call format;
- ``demo``: the whole pipeline (build -> deploy -> smoke) on this one machine.

How each stand-in maps to the real part is in docs/architecture.md.
"""
