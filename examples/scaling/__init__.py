"""The whole scaling picture on one machine: ``python -m examples.scaling``.

It starts a redis-server, a Celery worker, two agentkit worker processes and the simulator
(standing in for the Realtime API); worker-1 holds a conversation whose report runs on
Celery; worker-1 is killed with SIGKILL while the report is being built; worker-2 takes the
conversation over from its record in Redis and speaks the result. Everything it started is
stopped at the end. See docs/scaling.md.

- :mod:`examples.scaling.tasks`: the Celery app, the runner, the background tool, the agent;
- :mod:`examples.scaling.worker`: one agentkit worker process;
- :mod:`examples.scaling.__main__`: starts the parts and tells what happens.

Needs ``redis-server`` on the PATH and ``pip install "agentkit-realtime[celery]"``.
"""
