-- menu.updated: upsert, last write wins per field, invalid fields.
DO $$
DECLARE
    m menu_items;
    a jsonb;
BEGIN
    a := t_one(t_el('r1', 'menu.updated', 'burger',
        '{"item_id": "burger", "name": "Burger", "price": 1250, "cost": 410, "available": true, "allergens": ["gluten"]}'));
    PERFORM t_eq(a->>'status', 'accepted', 'insert');
    SELECT * INTO m FROM menu_items WHERE restaurant = 'r1' AND item_id = 'burger';
    PERFORM t_eq(m.name, 'Burger', 'name');
    PERFORM t_eq(m.price, 1250::bigint, 'price');
    PERFORM t_eq(m.cost, 410::bigint, 'cost');
    PERFORM t_eq(m.available, true, 'available');
    PERFORM t_eq(m.data->'allergens', '["gluten"]'::jsonb, 'extra fields kept');
    PERFORM t_eq(m.updated_seq, (a->>'seq')::bigint, 'updated_seq');

    -- Partial update: only the fields sent change.
    PERFORM t_one(t_el('r1', 'menu.updated', 'burger', '{"item_id": "burger", "price": 1300}'));
    SELECT * INTO m FROM menu_items WHERE restaurant = 'r1' AND item_id = 'burger';
    PERFORM t_eq(m.price, 1300::bigint, 'price updated');
    PERFORM t_eq(m.name, 'Burger', 'name kept');
    PERFORM t_eq(m.cost, 410::bigint, 'cost kept');
    PERFORM t_eq(m.data->>'price', '1300', 'data follows');

    PERFORM t_one(t_el('r1', 'menu.updated', 'burger', '{"item_id": "burger", "available": false, "name": "Cheeseburger"}'));
    PERFORM t_one(t_el('r1', 'menu.updated', 'burger', '{"item_id": "burger", "name": "Double Cheeseburger", "cost": null}'));
    SELECT * INTO m FROM menu_items WHERE restaurant = 'r1' AND item_id = 'burger';
    PERFORM t_eq(m.available, false, 'available false');
    PERFORM t_eq(m.name, 'Double Cheeseburger', 'last write wins');
    PERFORM t_eq(m.cost, NULL::bigint, 'cost cleared with null');
    PERFORM t_eq((SELECT count(*) FROM menu_items), 1::bigint, 'one item');

    -- Menus are per restaurant.
    PERFORM t_one(t_el('r2', 'menu.updated', 'burger', '{"item_id": "burger", "name": "R2 Burger", "price": 999}'));
    PERFORM t_eq((SELECT name FROM menu_items WHERE restaurant = 'r2' AND item_id = 'burger'), 'R2 Burger', 'r2 item');
    PERFORM t_eq((SELECT name FROM menu_items WHERE restaurant = 'r1' AND item_id = 'burger'), 'Double Cheeseburger', 'r1 item untouched');

    -- Invalid.
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"name": "No id"}'))->>'reason',
                 'menu.updated needs item_id (a non-empty string)', 'missing item_id');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": 7}'))->>'code', 'invalid', 'item_id not a string');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": ""}'))->>'code', 'invalid', 'empty item_id');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": "x", "price": "12"}'))->>'code', 'invalid', 'price string');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": "x", "price": 12.5}'))->>'code', 'invalid', 'price fractional');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": "x", "cost": true}'))->>'code', 'invalid', 'cost boolean');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": "x", "available": "yes"}'))->>'reason',
                 'available must be true or false', 'available string');
    PERFORM t_eq(t_one(t_el('r1', 'menu.updated', 'x', '{"item_id": "x", "name": 5}'))->>'code', 'invalid', 'name number');
    PERFORM t_eq((SELECT count(*) FROM menu_items WHERE item_id = 'x'), 0::bigint, 'nothing stored for invalid');
END
$$;
