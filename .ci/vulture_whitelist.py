"""Names vulture (run by .ci/run over the product code) reports as unused that are used.

Decorated registrations (typer commands, pydantic validators, SQLAlchemy listeners) and
pydantic's `model_config` are skipped in pyproject's [tool.vulture]; what is left is here, each
with why. This file is read by vulture, never imported.
"""

# ruff: noqa: B018
import storage
from agent_core.cli import app, serve
from agent_core.models import demo_goals, io_loop, scripted
from agent_core.oversight import patch_targets, policy, signin_roles, suggestions
from agent_core.oversight.notify import channels
from agent_core.run import halt_watcher
from agent_core.tools import stoppable_http
from storage import clock, driver_text, engine, insights, models, record, vocabulary

# Signatures another library calls: the parameter must be there, named so.
app._options.show_version  # typer's --version option (its callback does the work)
serve._stop_on_signals.handler.frame  # a signal handler's (signum, frame)
stoppable_http._StoppableBackend.connect_tcp  # httpcore calls it on its network backend
stoppable_http._StoppableBackend.connect_tcp.local_address  # httpcore's keyword argument
engine._install_sqlite_hooks.on_connect.dbapi_connection.isolation_level  # sqlite3 reads it
models.SchemaMigration.applied_at  # a column the migrations write and tests/test_schema reads

# Used by the tests and benchmarks (vulture reads the product code only).
suggestions.Suggestion.approved  # how many approvals a suggestion stands on (tests, --json)
scripted.ScriptedModel  # the scripted model tests drive runs with
engine.Store.is_sqlite
insights.QUERIES  # every insight query, run by tests/test_postgres and benchmarks/dashboard
io_loop.client_count  # how many shared model clients: the tests watch it close
halt_watcher.HaltWatcher.polls  # how many polls: the tests count reads per poll
demo_goals.demo_goal
signin_roles.RoleRules.role_for  # the rules' verdict on raw claims; the pages use identity()

# In another part of issue 20's work: Autonomy becomes a StrEnum (typed events).
policy.Autonomy

# Python calls a module's __getattr__ (PEP 562): storage loads its API on first use.
storage.__getattr__
# Fields of the typed record that writers set and exports and the dashboard's JSON view show
# whole (payload()), so no reader names them; they are part of the stored shape all the same.
record.ToolResult.requested_arguments
record.Status.automatic
record.FinalAnswer.claimed_goal_met
record.Recovered.repeats  # set by auto_resume (a dict payload), shown whole
# The usage names as members: UsageName is iterated (USAGE_NAMES), its members never named.
vocabulary.UsageName.STEPS
vocabulary.UsageName.TOOL_CALLS
vocabulary.UsageName.TOKENS_IN
vocabulary.UsageName.TOKENS_OUT
vocabulary.UsageName.COST_USD
# SQLAlchemy's compiler finds these by decoration and class attribute (storage/clock.py).
clock.db_now.inherit_cache
clock._postgresql
clock._sqlite
clock._other
# io.RawIOBase's protocol: BufferedReader calls them (agent_core/oversight/patch_targets.py).
patch_targets._Bounded.readable
patch_targets._Bounded.readinto
# urllib's handler protocol: its opener calls these by name (agent_core/oversight/notify/channels.py).
channels._NoRedirects.redirect_request
channels._Http.http_open
channels._Https.https_open
# psycopg calls a registered dumper's dump() by name (storage/driver_text.py).
driver_text.StoredText.dump
