"""moto's server, with EMR on EKS job runs that move through their states.

moto stands in for AWS in Spark Runner's tests only. Out of the box moto 5.2.5 creates every EMR on EKS job run
RUNNING and leaves it there. This wrapper applies moto's own state manager (ManagedState) to
moto.emrcontainers.models.JobRun, so a run goes PENDING -> SUBMITTED -> RUNNING -> COMPLETED the way moto's other
services advance (configure it with moto's documented POST /moto-api/state-manager/set-transition, model name
"emrcontainers::job_run"; the default is one step per DescribeJobRun/ListJobRuns, like "batch::job").

AWS also ends runs FAILED with a failureReason and stateDetails, which nothing in moto can produce. One extra
route is a stand-in for that report, for tests only:

    POST /moto-api/spark-runner/emrcontainers/job-run-outcome
    {"region": "us-east-1", "id": "<jobRunId>", "state": "FAILED",
     "failureReason": "USER_ERROR", "stateDetails": "..."}

Then moto.server.main(argv) runs as the moto_server console script would, with the same arguments.
"""

import json
import sys

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.utils import utcnow
from moto.emrcontainers import models
from moto.moto_api import state_manager
from moto.moto_api._internal import urls as moto_api_urls
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.server import main

MODEL_NAME = "emrcontainers::job_run"
TRANSITIONS = [("PENDING", "SUBMITTED"), ("SUBMITTED", "RUNNING"), ("RUNNING", "COMPLETED")]
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED"}
MotoJobRun = models.JobRun  # install() rebinds models.JobRun to the subclass below


class ManagedJobRun(MotoJobRun, ManagedState):
    """A JobRun whose `state` is ManagedState.status, so reading it applies the configured transition."""

    # moto's model registry files models under the service named by their module; this one is emrcontainers'.
    __module__ = models.__name__

    def __init__(self, *args, **kwargs):
        MotoJobRun.__init__(self, *args, **kwargs)
        # After JobRun.__init__, whose `self.state = "RUNNING"` this replaces with the first state, PENDING.
        ManagedState.__init__(self, MODEL_NAME, TRANSITIONS)

    @property
    def state(self):
        status = self.status
        if status in FINAL_STATES and self.finished_at is None:
            self.finished_at = utcnow()
        return status

    @state.setter
    def state(self, value):
        self.status = value


def advancing(method):
    """Wraps a backend read so that each DescribeJobRun/ListJobRuns counts as one look for "manual" transitions."""

    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        for job_run in result if isinstance(result, list) else [result]:
            job_run.advance()
        return result

    return wrapper


def job_run_outcome(request, full_url, headers):
    """The test-only stand-in for AWS ending a run: sets state, failureReason and stateDetails of one job run."""
    body = json.loads(request.get_data(as_text=True) or "{}")
    backend = models.emrcontainers_backends[body.get("accountId", DEFAULT_ACCOUNT_ID)][body["region"]]
    job_run = backend.job_runs.get(body["id"])
    if job_run is None:
        return 404, {}, json.dumps({"message": f"Job run {body['id']} doesn't exist."})
    job_run.state = body.get("state", "FAILED")
    job_run.failure_reason = body.get("failureReason")
    job_run.state_details = body.get("stateDetails")
    job_run.finished_at = utcnow()
    return 200, {"Content-Type": "application/json"}, json.dumps({"id": job_run.id, "state": job_run.state})


def install():
    models.JobRun = ManagedJobRun  # start_job_run looks the class up in its module at call time
    models.EMRContainersBackend.describe_job_run = advancing(models.EMRContainersBackend.describe_job_run)
    models.EMRContainersBackend.list_job_runs = advancing(models.EMRContainersBackend.list_job_runs)
    state_manager.register_default_transition(MODEL_NAME, transition={"progression": "manual", "times": 1})
    # The moto-api app reads url_paths when it handles its first request, which is after this.
    moto_api_urls.url_paths["{0}/moto-api/spark-runner/emrcontainers/job-run-outcome"] = job_run_outcome


if __name__ == "__main__":
    install()
    main(sys.argv[1:])
