with source as (
    select * from {{ source('gold', 'message_engagement') }}
),

renamed as (
    select
        event_id,
        event_time,
        event_type,
        message_id,
        campaign_id,
        variation_id,
        is_control,
        step_number,
        step_name,
        channel,
        user_id,
        cuid,
        send_at
    from source
)

select * from renamed
