"""The dashboard's process, as `onloop up` starts it: `python -m agent_core.cli.dashboard_process
run dashboard/app.py ...` is `streamlit run ...` that first asks the kernel for SIGTERM when its
`up` dies (PR_SET_PDEATHSIG, set here in the child's own start, so it is tied to `up`'s main
thread that started it, and leaves at once if `up` is already gone): a SIGKILLed or crashed
`up` leaves no dashboard holding its port."""

from __future__ import annotations

import sys


def main() -> None:
    from agent_core.worker.supervisor import die_with_supervisor

    die_with_supervisor()
    from streamlit.web.cli import main as streamlit

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit(prog_name="streamlit")


if __name__ == "__main__":
    main()
