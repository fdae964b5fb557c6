with events as (
    select * from {{ ref('stg_reconnect__events') }}
),

purchases as (
    select
        event_id as purchase_event_id,
        order_id,
        event_time as purchase_time,
        user_id,
        cuid,
        -- As reconnect attribute counts it: the event's revenue, else its items' price times
        -- quantity (a missing quantity counts as 1).
        coalesce(
            revenue,
            aggregate(
                items,
                cast(0 as decimal(18, 4)),
                (total, item) -> cast(
                    total + item.price * coalesce(item.quantity, 1) as decimal(18, 4)
                )
            )
        ) as revenue,
        currency
    from events
    where event_type = 'purchase'
)

select * from purchases
