with late_cancels as (
    select * from {{ ref('stg_reconnect__late_cancels') }}
),

by_message as (
    select
        message_id,
        count(*) as late_cancel_events,
        min(late_event_time) as first_late_cancel_at
    from late_cancels
    group by message_id
)

select * from by_message
