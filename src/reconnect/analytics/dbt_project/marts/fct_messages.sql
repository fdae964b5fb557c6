{#-
    Incremental (merge on message_id). A run recomputes every message that anything within the
    lookback touched: sent within var('lookback_days') before the newest send_at already here,
    or opened, clicked or late-cancelled by an event that recent. Its row is then recomputed
    from all of its inputs, so the result equals a full refresh as long as no input arrives
    more than lookback_days after its event time (then: --full-refresh). gold.messages is
    written once per message and its engagement is insert-only, so no row ever disappears.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='message_id',
        on_schema_change='fail'
    )
}}

with messages as (
    select * from {{ ref('stg_reconnect__messages') }}
),

engagement as (
    select * from {{ ref('int_message_engagement_by_message') }}
),

late_cancels as (
    select * from {{ ref('int_late_cancels_by_message') }}
),

engagement_events as (
    select * from {{ ref('stg_reconnect__message_engagement') }}
),

late_cancel_events as (
    select * from {{ ref('stg_reconnect__late_cancels') }}
),

{% if is_incremental() %}
    {%- set since = lookback_start('send_at') %}

    touched as (
        select message_id from messages
        where send_at >= {{ since }}
        union
        select message_id from engagement_events
        where event_time >= {{ since }}
        union
        select message_id from late_cancel_events
        where late_event_time >= {{ since }}
    ),
{% endif %}

final as (
    select
        messages.message_id,
        messages.journey_id,
        messages.campaign_id,
        messages.campaign_type,
        messages.variation_id,
        messages.is_control,
        messages.step_number,
        messages.step_name,
        messages.person_key,
        messages.user_id,
        messages.cuid,
        messages.trigger_time,
        messages.due_at,
        messages.send_at,
        cast(messages.send_at as date) as send_date,
        messages.deferred_from,
        messages.state,
        messages.reason,
        messages.decided_by,
        messages.channel,
        messages.state = 'SENT' as is_sent,
        coalesce(engagement.open_events, 0) as open_events,
        coalesce(engagement.click_events, 0) as click_events,
        engagement.first_opened_at,
        engagement.first_clicked_at,
        -- A click counts as an open: image blocking hides opens, never clicks.
        coalesce(engagement.open_events + engagement.click_events, 0) > 0 as is_opened,
        coalesce(engagement.click_events, 0) > 0 as is_clicked,
        coalesce(late_cancels.late_cancel_events, 0) as late_cancel_events,
        late_cancels.first_late_cancel_at,
        messages.state = 'SENT' and late_cancels.message_id is not null as is_late_cancelled
    from messages
    left join engagement
        on messages.message_id = engagement.message_id
    left join late_cancels
        on messages.message_id = late_cancels.message_id
    {% if is_incremental() %}
        where messages.message_id in (select touched.message_id from touched)
    {% endif %}
)

select * from final
