#!/usr/bin/env python3
"""What the official `anthropic` client sees of our server's Messages API
(POST /v1/messages and /v1/messages/count_tokens): one JSON object of
observations on stdout, which tests/app/test_server.cpp checks.

    anthropic_checks.py ROOT_URL MODEL      (ROOT_URL: http://127.0.0.1:PORT)
"""
import json
import sys

import anthropic
from anthropic import Anthropic

root, model = sys.argv[1], sys.argv[2]
client = Anthropic(base_url=root, api_key="unused-on-loopback", max_retries=0, timeout=600)
out = {"anthropic_version": anthropic.__version__}
system = "You are a helpful assistant."
msgs = [{"role": "user", "content": "Write one sentence about the sea."}]
# This SDK's create() has no temperature, top_p or top_k arguments (Anthropic's
# newest models fix them); the API takes them, so they go in the body.
greedy = {"temperature": 0}


def usage(u):
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens}


# A whole reply, greedy.
r = client.messages.create(model=model, system=system, messages=msgs, max_tokens=24, extra_body=greedy)
out["message"] = {
    "id": r.id,
    "type": r.type,
    "role": r.role,
    "model": r.model,
    "blocks": [b.type for b in r.content],
    "text": r.content[0].text,
    "stop_reason": r.stop_reason,
    "stop_sequence": r.stop_sequence,
    "usage": usage(r.usage),
}

# count_tokens: the same prompt, counted without a reply; tools add to it.
out["count_tokens"] = {
    "plain": client.messages.count_tokens(model=model, system=system, messages=msgs).input_tokens,
}

# The same request streamed: the raw events in order, and what the SDK's
# stream helper puts together from them.
events, pieces, indexes = [], [], set()
for ev in client.messages.create(model=model, system=[{"type": "text", "text": system}], messages=msgs,
                                 max_tokens=24, stream=True, extra_body=greedy):
    events.append(ev.type)
    if ev.type == "content_block_delta":
        indexes.add(ev.index)
        if ev.delta.type == "text_delta":
            pieces.append(ev.delta.text)
    if ev.type == "message_delta":
        delta_stop, delta_usage = ev.delta.stop_reason, ev.usage.output_tokens
with client.messages.stream(model=model, system=system, messages=msgs, max_tokens=24, extra_body=greedy) as s:
    helper_text = "".join(t for t in s.text_stream)
    final = s.get_final_message()
out["stream"] = {
    "events": events,
    "text": "".join(pieces),
    "pieces": len(pieces),
    "indexes": sorted(indexes),
    "stop_reason": delta_stop,
    "output_tokens": delta_usage,
    "helper_text": helper_text,
    "final_text": final.content[0].text,
    "final_stop_reason": final.stop_reason,
    "final_usage": usage(final.usage),
}

# A stop sequence from the middle of the greedy reply ends it just before.
full = out["message"]["text"]
words = full.split()
stop = " " + words[len(words) // 2] if len(words) > 2 else words[-1]
r = client.messages.create(model=model, system=system, messages=msgs, max_tokens=24, extra_body=greedy,
                           stop_sequences=["\n\n\n\n", stop])
out["stop"] = {
    "stop": stop,
    "expected": full[: full.find(stop)],
    "text": r.content[0].text,
    "stop_reason": r.stop_reason,
    "stop_sequence": r.stop_sequence,
}

# top_k: 1 is greedy whatever the temperature.
r = client.messages.create(model=model, system=system, messages=msgs, max_tokens=24,
                           extra_body={"temperature": 1, "top_k": 1})
out["top_k"] = {"text": r.content[0].text}

# Tools: a forced call (tool_choice "tool") comes back as a tool_use block
# whose input has the schema's shape; the result goes back as a tool_result
# and the model reads it (the follow-up's prompt is longer by it).
tools = [{
    "name": "get_weather",
    "description": "The current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                     "required": ["city"]},
}]
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
r = client.messages.create(model=model, messages=ask, tools=tools, tool_choice={"type": "tool", "name": "get_weather"},
                           max_tokens=60, extra_body=greedy)
calls = [b for b in r.content if b.type == "tool_use"]
out["tools"] = {
    "stop_reason": r.stop_reason,
    "blocks": [b.type for b in r.content],
    "calls": [{"id": c.id, "name": c.name, "input": c.input} for c in calls],
    "input_tokens": r.usage.input_tokens,
}
out["count_tokens"]["with_tools"] = client.messages.count_tokens(model=model, messages=ask, tools=tools).input_tokens
out["count_tokens"]["without_tools"] = client.messages.count_tokens(model=model, messages=ask).input_tokens
if calls:
    follow = ask + [
        {"role": "assistant", "content": r.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id,
                                      "content": "18 degrees Celsius and sunny"}]},
    ]
    f = client.messages.create(model=model, messages=follow, tools=tools, max_tokens=16, extra_body=greedy)
    out["tools"]["follow_up"] = {"stop_reason": f.stop_reason, "input_tokens": f.usage.input_tokens,
                                 "blocks": [b.type for b in f.content]}
# tool_choice "any", streamed: the call's input arrives as input_json_delta.
deltas, started = [], []
for ev in client.messages.create(model=model, messages=ask, tools=tools, tool_choice={"type": "any"},
                                 max_tokens=60, stream=True, extra_body=greedy):
    if ev.type == "content_block_start":
        started.append(ev.content_block.type)
    if ev.type == "content_block_delta" and ev.delta.type == "input_json_delta":
        deltas.append(ev.delta.partial_json)
    if ev.type == "message_delta":
        streamed_stop = ev.delta.stop_reason
out["tools"]["streamed"] = {"started": started, "input": json.loads("".join(deltas)) if deltas else None,
                            "stop_reason": streamed_stop}


def error_of(call):
    try:
        call()
    except anthropic.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {"class": type(e).__name__, "status": e.status_code, "type": body.get("type"),
                "error_type": (body.get("error") or {}).get("type"), "message": (body.get("error") or {}).get("message")}
    return None


out["wrong_model"] = error_of(lambda: client.messages.create(model="no-such-model", messages=msgs, max_tokens=8))
out["bad_temperature"] = error_of(lambda: client.messages.create(model=model, messages=msgs, max_tokens=8, extra_body={"temperature": 1.5}))
out["image"] = error_of(lambda: client.messages.create(model=model, max_tokens=8, messages=[{"role": "user", "content": [
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]))
print(json.dumps(out))
