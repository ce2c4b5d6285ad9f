-- The audit store (DESIGN.md, "Flow": auditor --> Postgres).
--
-- handoff_events: append-only, one row per logical record the pipeline published (a decision, a
--   package, a route, a lifecycle transition, an operator command). The primary key is the
--   record's deterministic id, so replays and redeliveries insert nothing.
-- handoffs: the current state of each handoff, folded from those records. Rows are created by
--   whichever record arrives first; each column is filled by the record that owns it, so the
--   result does not depend on the order the topics are read in.

-- Order of control states for ties on the same timestamp: a handoff never moves backwards.
CREATE FUNCTION handoff_state_rank(state text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE state
        WHEN 'flagged' THEN 0
        WHEN 'agent_active' THEN 0
        WHEN 'awaiting_human' THEN 1
        WHEN 'claimed' THEN 2
        WHEN 'returned_to_agent' THEN 3
        WHEN 'resolved' THEN 3
        ELSE 0
    END
$$;

CREATE TABLE handoff_events (
    event_id          text        PRIMARY KEY,          -- <kind>:<the record's deterministic id>
    handoff_id        text,                             -- NULL for commands that name none
    conversation_id   text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('signal', 'payload', 'route', 'lifecycle', 'command')),
    transition        text,                             -- see the comment below
    actor             text,
    note              text,
    team              text,
    accepted          boolean,                          -- NULL for commands (their lifecycle event says)
    rejection_reason  text,
    occurred_at       timestamptz NOT NULL,
    detail            jsonb       NOT NULL,             -- the record as JSON (PII blanked when redacting)
    source_topic      text        NOT NULL,
    source_partition  integer     NOT NULL,
    source_offset     bigint      NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);

COMMENT ON COLUMN handoff_events.transition IS
    'signal: the decision (escalate|flag); payload: built; route: routed; '
    'lifecycle: the transition (escalated, claimed, taken_over, resumed, resolved, reassigned, paused, sla_breached, rejected, ...); '
    'command: the action (take_over, claim, resume, resolve, reassign, pause, unknown)';
COMMENT ON COLUMN handoff_events.occurred_at IS
    'signal: decided_at; payload: created_at; route: routed_at; lifecycle: occurred_at; command: issued_at';
COMMENT ON COLUMN handoff_events.team IS
    'route: the team routed to; lifecycle: its team; command: target_team, else the operator''s team';

CREATE INDEX handoff_events_handoff_idx ON handoff_events (handoff_id);
CREATE INDEX handoff_events_conversation_idx ON handoff_events (conversation_id);
CREATE INDEX handoff_events_kind_time_idx ON handoff_events (kind, occurred_at);
CREATE INDEX handoff_events_time_idx ON handoff_events (occurred_at);  -- retention

CREATE TABLE handoffs (
    handoff_id              text        PRIMARY KEY,
    conversation_id         text        NOT NULL,
    -- from the signal (the payload and route fill them when they arrive first)
    signal_id               text,
    tenant_id               text,
    decision                text,       -- escalate | flag
    urgency                 text,       -- immediate | normal | nurture
    reasons                 jsonb,
    primary_reason          text,       -- the first reason's kind
    rule_ids                text[],
    policy_version          text,
    created_at              timestamptz,  -- decided_at
    trigger_event_id        text,
    contact_name            text,       -- PII: NULL when redacting
    contact_email           text,       -- PII: NULL when redacting
    contact_phone           text,       -- PII: NULL when redacting
    account_id              text,
    plan                    text,
    vip                     boolean,
    -- from the payload
    intent                  text,
    sub_intent              text,
    intent_confidence       double precision,
    summary                 text,
    draft_reply             text,
    next_action             text,
    next_action_reasoning   text,
    priority                text,       -- urgent | high | normal | low (the latest route's, else the payload's)
    -- from the route with the highest attempt
    route_id                text,
    team                    text,
    queue                   text,
    routing_rule_id         text,
    matched_on              text[],
    routed_at               timestamptz,
    claim_by                timestamptz,
    route_attempt           integer,
    -- from accepted lifecycle events
    state                   text,       -- flagged | awaiting_human | claimed | returned_to_agent | resolved
    state_at                timestamptz,
    state_lifecycle_id      text,       -- the lifecycle event that set state; NULL while set by the signal
    first_claimed_at        timestamptz,
    claimed_at              timestamptz,  -- the latest claim or take-over
    claimed_by              text,
    resolved_at             timestamptz,
    returned_at             timestamptz,
    sla_breached            boolean     NOT NULL DEFAULT false,
    reassign_count          integer     NOT NULL DEFAULT 0,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX handoffs_state_team_idx ON handoffs (state, team);
CREATE INDEX handoffs_created_idx ON handoffs (created_at);
CREATE INDEX handoffs_conversation_idx ON handoffs (conversation_id);

-- Open handoffs (waiting for a human or being handled), per team, newest first.
CREATE VIEW needs_attention AS
SELECT
    h.team,
    h.handoff_id,
    h.conversation_id,
    h.state,
    h.priority,
    h.urgency,
    h.primary_reason,
    h.intent,
    h.sub_intent,
    h.summary,
    h.next_action,
    h.created_at,
    h.state_at,
    h.claim_by,
    CASE WHEN h.state = 'claimed' THEN h.claimed_by END AS claimed_by,
    h.sla_breached OR (h.state = 'awaiting_human' AND h.claim_by < now()) AS overdue,
    h.reassign_count
FROM handoffs h
WHERE h.state IN ('awaiting_human', 'claimed')
ORDER BY h.team NULLS LAST, h.created_at DESC NULLS LAST, h.handoff_id;
