with source as (
    select * from {{ source('bronze', 'events') }}
),

renamed as (
    select
        event_id,
        event_time,
        event_date,
        event_type,
        event_name,
        user_id,
        cuid,
        session_id,
        product_id,
        quantity,
        price,
        currency,
        order_id,
        revenue,
        items,
        message_id,
        channel
    from source
)

select * from renamed
