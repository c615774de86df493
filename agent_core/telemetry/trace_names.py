"""Span and attribute names. The GenAI and server names are the semantic-conventions package's
own constants (never typed here); onloop's human side has names of its own under `onloop.`."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.semconv.attributes import error_attributes, server_attributes

OPERATION = gen_ai.GEN_AI_OPERATION_NAME
PROVIDER = gen_ai.GEN_AI_PROVIDER_NAME
AGENT_NAME = gen_ai.GEN_AI_AGENT_NAME
AGENT_ID = gen_ai.GEN_AI_AGENT_ID
CONVERSATION = gen_ai.GEN_AI_CONVERSATION_ID
REQUEST_MODEL = gen_ai.GEN_AI_REQUEST_MODEL
RESPONSE_MODEL = gen_ai.GEN_AI_RESPONSE_MODEL
INPUT_TOKENS = gen_ai.GEN_AI_USAGE_INPUT_TOKENS
OUTPUT_TOKENS = gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
FINISH_REASONS = gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
INPUT_MESSAGES = gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = gen_ai.GEN_AI_OUTPUT_MESSAGES
TOOL_NAME = gen_ai.GEN_AI_TOOL_NAME
TOOL_CALL_ID = gen_ai.GEN_AI_TOOL_CALL_ID
TOOL_TYPE = gen_ai.GEN_AI_TOOL_TYPE
TOOL_ARGUMENTS = gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS
TOOL_RESULT = gen_ai.GEN_AI_TOOL_CALL_RESULT
SERVER_ADDRESS = server_attributes.SERVER_ADDRESS
SERVER_PORT = server_attributes.SERVER_PORT
ERROR_TYPE = error_attributes.ERROR_TYPE

INVOKE_AGENT = gen_ai.GenAiOperationNameValues.INVOKE_AGENT.value
CHAT = gen_ai.GenAiOperationNameValues.CHAT.value
EXECUTE_TOOL = gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value
AGENT = "onloop"  # gen_ai.agent.name: every run is driven by onloop's one agent loop
FUNCTION = "function"  # gen_ai.tool.type of every tool a run calls (built-in, own or MCP)

# onloop's own: the run, its session, and the human side of every call.
RUN_ID = "onloop.run.id"
RUN_STATUS = "onloop.run.status"  # how this session ended: succeeded, paused, halted, ...
RUN_REASON = "onloop.run.reason"
RUN_RESUMED = "onloop.run.resumed"
RUN_AUTONOMY = "onloop.run.autonomy"
WORKER_ID = "onloop.worker.id"
STEP = "onloop.step"
PURPOSE = "onloop.model.purpose"  # a call beside the conversation: judge
COST = "onloop.usage.cost_usd"
VERDICT = "onloop.tool.verdict"  # allow | ask | deny | invalid
RISK = "onloop.tool.risk"
RULE = "onloop.tool.rule"
CALL_CLASS = "onloop.tool.class"
TOOL_OUTCOME = "onloop.tool.outcome"  # ok | error | denied | rejected | invalid | skipped | halted
TOOL_REASON = "onloop.tool.reason"  # content: the policy's reason may quote the call
APPROVAL = "onloop.approval"  # the span of a person's decision on one call
APPROVAL_REQUESTED = "onloop.approval.requested"  # the event on the tool's span
APPROVAL_ID = "onloop.approval.id"
DECISION = "onloop.approval.decision"  # approved | rejected | expired | cancelled
DECIDED_BY = "onloop.approval.decided_by"
EDITED = "onloop.approval.edited"
WAIT_S = "onloop.approval.wait_s"
SCOPE = "onloop.approval.scope"  # an allowance given with the approval: the call, the run, ...
DRIFT = "onloop.drift"  # events on the session's span
DRIFT_MONITOR = "onloop.drift.monitor"
DRIFT_ACTION = "onloop.drift.action"
DRIFT_DETAIL = "onloop.drift.detail"
GUIDANCE = "onloop.guidance"
HALT = "onloop.halt"
PAUSE = "onloop.pause"
BY = "onloop.by"  # who sent the guidance, halted the run, ...
MESSAGE = "onloop.message"  # content: the guidance itself
