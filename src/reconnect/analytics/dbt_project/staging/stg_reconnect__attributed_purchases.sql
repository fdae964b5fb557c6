with source as (
    select * from {{ source('gold', 'attributed_purchases') }}
),

renamed as (
    select
        attribution,
        purchase_event_id,
        order_id,
        purchase_time,
        user_id,
        revenue,
        currency,
        campaign_id,
        variation_id,
        is_control,
        step_number,
        step_name,
        channel,
        message_id,
        click_event_id,
        click_time
    from source
)

select * from renamed
