with engagement as (
    select * from {{ ref('stg_reconnect__message_engagement') }}
),

by_message as (
    select
        message_id,
        count_if(event_type = 'message_open') as open_events,
        count_if(event_type = 'message_click') as click_events,
        min(case when event_type = 'message_open' then event_time end) as first_opened_at,
        min(case when event_type = 'message_click' then event_time end) as first_clicked_at,
        max(event_time) as last_engaged_at
    from engagement
    group by message_id
)

select * from by_message
