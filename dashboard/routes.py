"""Where each page lives, relative to dashboard/app.py: the paths st.Page, st.page_link and
st.switch_page take. Pages refer to each other through these names only."""

LAUNCH_PAGE = "pages/launch.py"
LIVE_PAGE = "pages/live.py"
RUN_PAGE = "pages/run.py"
APPROVALS_PAGE = "pages/approvals.py"
HISTORY_PAGE = "pages/history.py"
INSIGHTS_PAGE = "pages/insights.py"
