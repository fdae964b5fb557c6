with source as (
    select * from {{ source('gold', 'campaigns') }}
),

renamed as (
    select
        campaign_id,
        campaign_type,
        name as campaign_name,
        status as campaign_status,
        priority,
        timezone,
        channels,
        caps,
        primary_metric,
        attribution_window_seconds,
        wait_seconds,
        watch_window_seconds,
        cancel_all_others,
        variations as variation_count
    from source
)

select * from renamed
