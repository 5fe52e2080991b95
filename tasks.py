"""vllm-fleet's commands. Each collection lives in src/vllm_fleet/tasks/; this file only wires.

invoke --list            every task
invoke render --target cpu
invoke build --target cpu --base-image vllm-fleet-local/debian:bookworm
"""

from invoke import Collection

from vllm_fleet.tasks import bench, demo, evaluate, images, plan, rollout, sandbox, smoke, status

ns = Collection()
# Image pipeline: render, build, push, lint, base-image (top level, as docs/architecture.md
# names them).
for task in images.ns.tasks.values():
    ns.add_task(task)
# What each host will run, resolved from inventory + models + image manifests; no connection.
for task in plan.ns.tasks.values():
    ns.add_task(task)
# Does a live endpoint work the way clients need it to: invoke smoke --url URL --model NAME.
for task in smoke.ns.tasks.values():
    ns.add_task(task)
# Host by host, does the fleet run what the plan says: invoke status --inventory FILE.
for task in status.ns.tasks.values():
    ns.add_task(task)
# Change the fleet host by host through the router: invoke rollout / rollback --inventory FILE.
for task in rollout.ns.tasks.values():
    ns.add_task(task)
# Throughput and accuracy against the usage guide: invoke bench, bench.compare, eval.
ns.add_collection(bench.ns)
ns.add_collection(evaluate.ns)
# The local test host: invoke sandbox.up / sandbox.down.
ns.add_collection(sandbox.ns)
# The embedded default: build -> deploy -> smoke on this machine.
ns.add_task(demo.demo)
