"""Return serving hosts to the version they recorded as previous (vllm_fleet.rollout.state).

    invoke rollback --inventory inventory/prod.py [--host NAME]   # drained, one at a time
    pyinfra inventory/prod.py deploy/rollback.py --limit NAME     # what it runs on each host

The host's own record says what to return to, so this needs nothing but the host: its previous
unit goes back in place, the server restarts on it and passes the ready gate (health and smoke),
then the record's current and previous swap. A host with no previous version stops the run
before any host is changed. The next deploy/serve.py rolls forward again unless the host data
pins the version rolled back to.
"""

from vllm_fleet.deploy.context import host_spec, serves_a_model
from vllm_fleet.deploy.ready import ready_gate
from vllm_fleet.deploy.rolling import admit_restart, keep_record, put_previous_unit
from vllm_fleet.deploy.service import restart_service

if serves_a_model():
    spec = host_spec()
    rolled_back = put_previous_unit(spec)
    admit_restart()
    started = restart_service(spec)
    ready_gate(spec, started)
    keep_record(spec, rolled_back)
