with source as (
    select * from {{ source('gold', 'campaign_variations') }}
),

renamed as (
    select
        campaign_id,
        variation_id,
        variation_number,
        is_control,
        weight,
        bucket_start,
        bucket_end,
        steps as step_count
    from source
)

select * from renamed
