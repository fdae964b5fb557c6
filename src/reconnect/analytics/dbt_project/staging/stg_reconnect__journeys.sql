with source as (
    select * from {{ source('silver', 'journeys') }}
),

renamed as (
    select
        journey_id,
        campaign_id,
        campaign_type,
        variation_id,
        is_control,
        key_kind,
        user_key,
        user_id,
        cuid,
        trigger_time,
        trigger_id,
        steps as step_count,
        first_due_at,
        last_due_at,
        state as journey_state,
        reason as end_reason,
        ended_by,
        ended_at
    from source
)

select * from renamed
