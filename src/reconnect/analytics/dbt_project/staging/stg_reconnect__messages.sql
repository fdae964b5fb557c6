with source as (
    select * from {{ source('gold', 'messages') }}
),

renamed as (
    select
        message_id,
        journey_id,
        campaign_id,
        campaign_type,
        variation_id,
        is_control,
        step_number,
        step_name,
        person_key,
        user_id,
        cuid,
        trigger_time,
        due_at,
        send_at,
        deferred_from,
        state,
        reason,
        decided_by,
        channel
    from source
)

select * from renamed
