with source as (
    select * from {{ source('gold', 'campaign_steps') }}
),

renamed as (
    select
        campaign_id,
        variation_id,
        is_control,
        step_number,
        step_name,
        channels,
        wait_seconds,
        offset_seconds
    from source
)

select * from renamed
