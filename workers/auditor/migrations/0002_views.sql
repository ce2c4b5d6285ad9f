-- 0002: several signals per handoff, the analyst views and the indexes they use.
--
-- An SLA breach re-escalates the *same* handoff with a new signal (more urgent, its first reason
-- `sla_breach`), which the builder turns into a new payload and the router into a new route. The
-- columns added here let the auditor merge those without depending on arrival order
-- (workers/auditor/src/store.rs has the rules):
--   - the signal columns (reasons, primary_reason, rule_ids, created_at, contact, ...) describe
--     the escalation itself: the signal with the fewest sla_breach reasons (`signal_attempt`),
--     the signal itself before the copies of it in its payload and route (`signal_from_copy`);
--   - urgency is the most urgent any signal carried (a breach raises it);
--   - the payload columns (intent, summary, draft_reply, next_action, ...) come from the newest
--     payload (`payload_attempt`, `payload_signal_at`, `payload_signal_id`), the payload itself
--     before the copy in its route (`payload_from_route`);
--   - `sla_breach_count` / `sla_breached_at` count the sla_breached lifecycle events.
--
-- Views (documented in README.md, "Audit store"): needs_attention, needs_attention_counts,
-- escalations_daily, time_to_claim, time_to_resolve, routing_mix, handback_stats, sla_breaches,
-- operator_history. Times are seconds; days are UTC dates.

-- ---- helpers -------------------------------------------------------------------------------

CREATE FUNCTION handoff_urgency_rank(urgency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE urgency
        WHEN 'nurture' THEN 0
        WHEN 'normal' THEN 1
        WHEN 'immediate' THEN 2
        ELSE -1
    END
$$;

CREATE FUNCTION handoff_priority_rank(priority text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE priority
        WHEN 'low' THEN 0
        WHEN 'normal' THEN 1
        WHEN 'high' THEN 2
        WHEN 'urgent' THEN 3
        ELSE -1
    END
$$;

-- What a reason kind means, for people reading a queue.
CREATE FUNCTION handoff_reason_label(kind text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE kind
        WHEN 'explicit_request' THEN 'Asked for a person'
        WHEN 'tool_call' THEN 'Agent asked for help'
        WHEN 'sentiment' THEN 'Hostile sentiment'
        WHEN 'threat' THEN 'Churn or chargeback threat'
        WHEN 'keyword' THEN 'Keyword matched'
        WHEN 'low_confidence' THEN 'Agent unsure'
        WHEN 'out_of_scope' THEN 'Out of the agent''s scope'
        WHEN 'sales' THEN 'Sales opportunity'
        WHEN 'fraud' THEN 'Possible fraud'
        WHEN 'manual' THEN 'Operator stepped in'
        WHEN 'handoff_disabled_by_plan' THEN 'Handoff off for this plan'
        WHEN 'sla_breach' THEN 'Claim deadline missed'
        ELSE initcap(replace(coalesce(kind, 'unknown'), '_', ' '))
    END
$$;

-- sla_breach reasons in a reasons array (0 for the escalation, n for its n-th SLA re-escalation).
CREATE FUNCTION handoff_sla_attempt(reasons jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT count(*)::integer
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(reasons) = 'array' THEN reasons ELSE '[]'::jsonb END) AS r(reason)
    WHERE r.reason ->> 'kind' = 'sla_breach'
$$;

-- ---- handoffs: columns for several signals/payloads per handoff ------------------------------

ALTER TABLE handoffs
    ADD COLUMN signal_attempt      integer,      -- sla_breach reasons of the signal the signal columns come from
    ADD COLUMN signal_from_copy    boolean,      -- ... taken from a payload's or route's copy (the signal not seen yet)
    ADD COLUMN payload_signal_id   text,         -- the signal the payload columns were built from
    ADD COLUMN payload_attempt     integer,      -- its sla_breach reasons
    ADD COLUMN payload_signal_at   timestamptz,  -- its decided_at
    ADD COLUMN payload_from_route  boolean,      -- ... taken from the copy inside a route (the payload not seen yet)
    ADD COLUMN sla_breach_count    integer NOT NULL DEFAULT 0,
    ADD COLUMN sla_breached_at     timestamptz;  -- the first breach

COMMENT ON COLUMN handoffs.signal_attempt IS
    'sla_breach reasons in the signal that set reasons/primary_reason/rule_ids/created_at (0: the escalation itself)';
COMMENT ON COLUMN handoffs.payload_signal_id IS
    'the signal whose payload set intent/summary/draft_reply/next_action (the newest: an SLA re-escalation rebuilds it)';
COMMENT ON COLUMN handoffs.sla_breach_count IS 'accepted sla_breached lifecycle events';
COMMENT ON COLUMN handoffs.sla_breached_at IS 'the first sla_breached lifecycle event';

-- Rows written before this migration: derive the new columns from what is stored.
UPDATE handoffs h
SET signal_attempt = handoff_sla_attempt(h.reasons),
    signal_from_copy = NOT EXISTS (
        SELECT 1 FROM handoff_events e WHERE e.handoff_id = h.handoff_id AND e.kind = 'signal')
WHERE h.reasons IS NOT NULL;

UPDATE handoffs h
SET payload_signal_id = p.signal_id,
    payload_attempt = p.attempt,
    payload_signal_at = p.signal_at,
    payload_from_route = false
FROM (
    SELECT DISTINCT ON (handoff_id)
        handoff_id,
        detail ->> 'signal_id' AS signal_id,
        handoff_sla_attempt(detail -> 'reasons') AS attempt,
        (detail ->> 'created_at')::timestamptz AS signal_at
    FROM handoff_events
    WHERE kind = 'payload' AND handoff_id IS NOT NULL
    ORDER BY handoff_id, occurred_at DESC, event_id DESC
) p
WHERE p.handoff_id = h.handoff_id;

UPDATE handoffs h
SET sla_breach_count = b.n, sla_breached_at = b.first_at
FROM (
    SELECT handoff_id, count(*)::integer AS n, min(occurred_at) AS first_at
    FROM handoff_events
    WHERE kind = 'lifecycle' AND transition = 'sla_breached' AND accepted
    GROUP BY handoff_id
) b
WHERE b.handoff_id = h.handoff_id;

-- A `flagged` lifecycle event keeps the conversation's control state (from = to); the handoff's
-- state is `flagged`.
UPDATE handoffs SET state = 'flagged' WHERE decision = 'flag' AND state = 'agent_active';

-- ---- indexes for the views -----------------------------------------------------------------
-- Every index costs every write (the auditor's rows/s is benchmarked against a raw COPY), so
-- only what the views and the retention task use.

-- needs_attention / needs_attention_counts: the open handoffs only. It replaces 0001's
-- (state, team) index, which every state change had to maintain.
CREATE INDEX handoffs_open_idx ON handoffs (team, created_at)
    WHERE state IN ('awaiting_human', 'claimed');
DROP INDEX handoffs_state_team_idx;
-- A handoff row is updated by each of its records: room on the page lets an update that
-- changes no indexed column (a payload after its signal, a re-route) stay on it (HOT).
ALTER TABLE handoffs SET (fillfactor = 70);
-- sla_breaches
CREATE INDEX handoffs_sla_breached_idx ON handoffs (sla_breached_at) WHERE sla_breached;
-- handback_stats: handed-back handoffs, then later handoffs of the same conversation
-- (handoffs_conversation_idx from 0001). time_to_claim, time_to_resolve and escalations_daily
-- aggregate over handoffs; handoffs_created_idx (0001) serves a time range.
CREATE INDEX handoffs_returned_idx ON handoffs (returned_at) WHERE returned_at IS NOT NULL;

-- operator_history: lifecycle events by operator, in time order.
CREATE INDEX handoff_events_operator_idx ON handoff_events ((substr(actor, 10)), occurred_at)
    WHERE kind = 'lifecycle' AND actor LIKE 'operator:%';
-- 0001's (kind, occurred_at) index serves no view: handoff_events_time_idx (retention, time
-- ranges), handoff_events_handoff_idx (routing_mix's first routes, one handoff's story) and
-- handoff_events_conversation_idx (one conversation's story) do.
DROP INDEX handoff_events_kind_time_idx;

-- ---- views ---------------------------------------------------------------------------------

-- Same first 17 columns as 0001's needs_attention (CREATE OR REPLACE keeps dependants valid);
-- `overdue` now means "still unclaimed and past its deadline or breached".
CREATE OR REPLACE VIEW needs_attention AS
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
    (h.state = 'awaiting_human' AND (h.sla_breached OR COALESCE(h.claim_by < now(), false))) AS overdue,
    h.reassign_count,
    handoff_reason_label(h.primary_reason) AS reason,
    h.reasons -> 0 ->> 'evidence_text' AS reason_evidence,
    GREATEST(0, floor(extract(epoch FROM now() - COALESCE(h.created_at, h.routed_at, h.state_at))))::bigint
        AS waiting_seconds,
    h.sla_breached,
    h.queue,
    h.claimed_at
FROM handoffs h
WHERE h.state IN ('awaiting_human', 'claimed')
ORDER BY h.team NULLS LAST, overdue DESC, handoff_priority_rank(h.priority) DESC,
    h.created_at NULLS LAST, h.handoff_id;

COMMENT ON VIEW needs_attention IS
    'The open queue: one row per handoff waiting for a human (awaiting_human) or being handled '
    '(claimed), per team, overdue first, then by priority, oldest first. reason is the primary '
    'reason in words, reason_evidence what triggered it, waiting_seconds the time since the '
    'handoff was created, overdue = unclaimed and past claim_by or SLA-breached.';

CREATE VIEW needs_attention_counts AS
SELECT
    team,
    count(*) AS open,
    count(*) FILTER (WHERE state = 'awaiting_human') AS unclaimed,
    count(*) FILTER (WHERE state = 'claimed') AS claimed,
    count(*) FILTER (WHERE overdue) AS overdue,
    max(waiting_seconds) FILTER (WHERE state = 'awaiting_human') AS oldest_unclaimed_seconds
FROM needs_attention
GROUP BY team
ORDER BY team NULLS LAST;

COMMENT ON VIEW needs_attention_counts IS
    'Per team: open handoffs (what the console badge counts), of which unclaimed, claimed and '
    'overdue, and how long the oldest unclaimed one has waited. Teams with nothing open have no row.';

CREATE VIEW escalations_daily AS
SELECT
    (h.created_at AT TIME ZONE 'UTC')::date AS day,
    h.decision,
    h.primary_reason,
    r.reason ->> 'kind' AS reason,
    r.reason ->> 'rule_id' AS rule_id,
    COALESCE(r.ord = 1, true) AS is_primary,
    count(*) AS count
FROM handoffs h
LEFT JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(h.reasons) = 'array' THEN h.reasons ELSE '[]'::jsonb END
    ) WITH ORDINALITY AS r(reason, ord) ON true
WHERE h.created_at IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 6 DESC, 4, 5;

COMMENT ON VIEW escalations_daily IS
    'Handoffs per UTC day of the decision, decision (escalate | flag) and primary reason, '
    'with every reason that fired unnested: one row per (reason, rule_id); is_primary marks the '
    'primary one, so WHERE is_primary counts each handoff once and all rows count rule firings. '
    'SLA re-escalations are not new handoffs (see sla_breaches).';

CREATE VIEW time_to_claim AS
SELECT
    team,
    count(*) AS n,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90_seconds,
    avg(seconds) AS mean_seconds,
    max(seconds) AS max_seconds
FROM (
    SELECT h.team, GREATEST(0, extract(epoch FROM h.first_claimed_at - h.created_at))::double precision AS seconds
    FROM handoffs h
    WHERE h.decision = 'escalate'
      AND h.first_claimed_at IS NOT NULL
      AND h.created_at IS NOT NULL
      AND NOT COALESCE('manual.take_over' = ANY (h.rule_ids), false)
) c
GROUP BY team
ORDER BY team NULLS LAST;

COMMENT ON VIEW time_to_claim IS
    'Per team (the current one): seconds from the escalation to its first claim (or take-over of '
    'a waiting handoff), over claimed handoffs: n, p50, p90, mean, max. Handoffs an operator '
    'created by taking over an active conversation never waited and are left out.';

CREATE VIEW time_to_resolve AS
SELECT
    team,
    count(*) AS n,
    count(*) FILTER (WHERE state = 'resolved') AS resolved,
    count(*) FILTER (WHERE state = 'returned_to_agent') AS returned_to_agent,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90_seconds,
    avg(seconds) AS mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY handle_seconds) AS p50_handle_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY handle_seconds) AS p90_handle_seconds
FROM (
    SELECT
        c.team,
        c.state,
        GREATEST(0, extract(epoch FROM c.closed_at - c.created_at))::double precision AS seconds,
        GREATEST(0, extract(epoch FROM c.closed_at - c.first_claimed_at))::double precision AS handle_seconds
    FROM (
        SELECT h.*, CASE h.state WHEN 'resolved' THEN h.resolved_at ELSE h.returned_at END AS closed_at
        FROM handoffs h
        WHERE h.state IN ('resolved', 'returned_to_agent')
    ) c
    WHERE c.closed_at IS NOT NULL AND c.created_at IS NOT NULL
) x
GROUP BY team
ORDER BY team NULLS LAST;

COMMENT ON VIEW time_to_resolve IS
    'Per team: handoffs a human closed (resolved, or returned to the agent with a note), how '
    'many of each, and seconds from the escalation to the close (p50, p90, mean) and from the '
    'first claim to the close (handle time, p50, p90).';

CREATE VIEW routing_mix AS
WITH first_route AS (
    SELECT DISTINCT ON (e.handoff_id) e.handoff_id, e.team
    FROM handoff_events e
    WHERE e.kind = 'route' AND e.handoff_id IS NOT NULL
    ORDER BY e.handoff_id, COALESCE((e.detail -> 'routing' ->> 'attempt')::integer, 0), e.occurred_at, e.event_id
), per_team AS (
    SELECT
        f.team,
        count(*) AS handoffs,
        count(*) FILTER (WHERE h.reassign_count > 0) AS reassigned,
        COALESCE(sum(h.reassign_count), 0)::bigint AS reassignments,
        count(*) FILTER (WHERE h.team IS DISTINCT FROM f.team) AS ended_in_other_team
    FROM first_route f
    LEFT JOIN handoffs h ON h.handoff_id = f.handoff_id
    GROUP BY f.team
)
SELECT
    team,
    handoffs,
    round(handoffs::numeric / sum(handoffs) OVER (), 4) AS share,
    reassigned,
    reassignments,
    round(reassigned::numeric / handoffs, 4) AS reassignment_rate,
    ended_in_other_team
FROM per_team
ORDER BY handoffs DESC, team;

COMMENT ON VIEW routing_mix IS
    'Per team the router first sent handoffs to: how many, their share of all routed handoffs, '
    'how many were reassigned (by an accepted reassigned lifecycle event) and the reassignment '
    'rate - a proxy for routing accuracy - and how many ended in another team.';

CREATE VIEW handback_stats AS
WITH escalations AS (
    SELECT
        h.handoff_id,
        h.team,
        h.returned_at,
        h.returned_at IS NOT NULL AND EXISTS (
            SELECT 1
            FROM handoffs n
            WHERE n.conversation_id = h.conversation_id
              AND n.handoff_id <> h.handoff_id
              AND n.decision = 'escalate'
              AND n.created_at > h.returned_at
              AND n.created_at <= h.returned_at + interval '24 hours'
        ) AS re_escalated
    FROM handoffs h
    WHERE h.decision = 'escalate'
)
SELECT
    CASE WHEN grouping(team) = 1 THEN '(all)' ELSE team END AS team,
    count(*) AS handoffs,
    count(*) FILTER (WHERE returned_at IS NOT NULL) AS returned_to_agent,
    round(count(*) FILTER (WHERE returned_at IS NOT NULL)::numeric / NULLIF(count(*), 0), 4) AS handback_rate,
    count(*) FILTER (WHERE re_escalated) AS re_escalated_24h,
    round(count(*) FILTER (WHERE re_escalated)::numeric
          / NULLIF(count(*) FILTER (WHERE returned_at IS NOT NULL), 0), 4) AS re_escalation_rate
FROM escalations
GROUP BY GROUPING SETS ((team), ())
ORDER BY grouping(team), team NULLS LAST;

COMMENT ON VIEW handback_stats IS
    'Per team and in total (team = ''(all)''): escalated handoffs, how many a human handed back '
    'to the agent (resume), the handback rate, and how many of those were followed within 24 h '
    'by a new escalation of the same conversation (a new handoff), with that rate.';

CREATE VIEW sla_breaches AS
SELECT
    h.handoff_id,
    h.conversation_id,
    h.team,
    h.priority,
    h.urgency,
    h.primary_reason,
    h.created_at,
    h.claim_by,
    h.sla_breached_at AS breached_at,
    h.sla_breach_count AS breaches,
    h.first_claimed_at AS claimed_at,
    h.state,
    GREATEST(0, floor(extract(epoch FROM COALESCE(h.first_claimed_at, now()) - h.created_at)))::bigint
        AS waited_seconds
FROM handoffs h
WHERE h.sla_breached
ORDER BY h.sla_breached_at DESC NULLS LAST, h.handoff_id;

COMMENT ON VIEW sla_breaches IS
    'Handoffs that missed their claim-by deadline: when the first breach happened, how many '
    'breaches (each re-escalates with higher urgency), the current deadline and priority, when '
    '(if ever) a human claimed it and how long it waited for that.';

CREATE VIEW operator_history AS
SELECT
    substr(e.actor, 10) AS operator_id,
    c.detail -> 'operator' ->> 'name' AS operator_name,
    c.detail -> 'operator' ->> 'team' AS operator_team,
    e.handoff_id,
    e.conversation_id,
    e.transition AS action,
    e.detail ->> 'from_state' AS from_state,
    e.detail ->> 'to_state' AS to_state,
    e.accepted,
    e.rejection_reason,
    e.note,
    e.team,
    e.occurred_at,
    e.detail ->> 'command_id' AS command_id
FROM handoff_events e
LEFT JOIN handoff_events c ON c.event_id = 'command:' || (e.detail ->> 'command_id')
WHERE e.kind = 'lifecycle' AND e.actor LIKE 'operator:%'
-- Transitions stamped in the same millisecond keep their order on the topic (one conversation's
-- events share a partition).
ORDER BY e.occurred_at, e.source_topic, e.source_partition, e.source_offset, e.event_id;

COMMENT ON VIEW operator_history IS
    'Every transition an operator caused, in time order: take-overs, claims, resumes (handbacks), '
    'resolves, reassigns, pauses, and refused commands (accepted = false, with the reason), with '
    'the operator''s note, name and team, the handoff and the conversation.';
