"""Where each page lives, relative to dashboard/app.py: the paths st.Page, st.page_link and
st.switch_page take. Pages refer to each other through these names only."""

LAUNCH_PAGE = "views/launch.py"
LIVE_PAGE = "views/live.py"
RUN_PAGE = "views/run.py"
APPROVALS_PAGE = "views/approvals.py"
HISTORY_PAGE = "views/history.py"
INSIGHTS_PAGE = "views/insights.py"
POLICY_PAGE = "views/policy.py"
