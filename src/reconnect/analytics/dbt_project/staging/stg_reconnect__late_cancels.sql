with source as (
    select * from {{ source('gold', 'late_cancels') }}
),

renamed as (
    select
        event_id as late_event_id,
        event_time as late_event_time,
        event_type as late_event_type,
        message_id,
        campaign_id,
        user_id,
        due_at,
        send_at
    from source
)

select * from renamed
