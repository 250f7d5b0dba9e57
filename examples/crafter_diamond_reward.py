"""A shaped reward for Crafter-Diamond-v1, one tech-tree step at a time, each unlock rewarded once.

Crafter's rules (its data.yaml): wood from trees; a table uses 2 wood; a wood pickaxe (1 wood) near a table;
stone and coal need the wood pickaxe; a stone pickaxe (1 wood, 1 stone) near a table; a furnace uses 4 stone;
iron needs the stone pickaxe; an iron pickaxe uses 1 wood, 1 coal and 1 iron near a table and a furnace; a
diamond needs the iron pickaxe. The state has no furnace distance, so "a furnace exists" is read from the
place_furnace achievement. Episodes last 10,000 steps: approaching the current target earns a small positive
bonus (not a per-step distance penalty, which would make dying early pay), and eating and drinking are rewarded
a little so that the player lives long enough; lava, next to diamonds, is penalized.
"""

import torch


def compute_reward(
    nearest_distance: torch.Tensor,
    facing_target: torch.Tensor,
    action: torch.Tensor,
    inventory: torch.Tensor,
    achievements: torch.Tensor,
    unlocked: torch.Tensor,
    vitals_change: torch.Tensor,
    lava_adjacent: torch.Tensor,
    died: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    wood, stone, coal, iron = inventory[:, 1], inventory[:, 2], inventory[:, 3], inventory[:, 4]
    has_wp = (inventory[:, 6] >= 1.0).float()
    has_sp = (inventory[:, 7] >= 1.0).float()
    has_ip = (inventory[:, 8] >= 1.0).float()
    furnace = achievements[:, 17]  # a furnace was placed this episode
    near_table = (nearest_distance[:, 6] <= 1.0).float()  # making needs a table in the 3x3 area around the player
    table_seen = (nearest_distance[:, 6] < 17.0).float()  # a table within 8 cells: walk back to it
    free_front = 1.0 - facing_target.sum(dim=1).clamp(max=1.0)  # facing no tree/stone/water/...: room to place
    doing = (action == 5).float()
    todo = 1.0 - has_ip

    # Materials still to gather for the remaining tools (a second table's wood if none is in sight).
    wood_needed = todo * (1.0 + (1.0 - has_sp) + (1.0 - has_wp) + 2.0 * (1.0 - table_seen))
    stone_needed = todo * ((1.0 - has_sp) + 4.0 * (1.0 - furnace))
    need_wood = (wood < wood_needed).float()
    need_stone = has_wp * (stone < stone_needed).float()
    need_coal = has_wp * todo * (coal < 1.0).float()
    need_iron = has_sp * todo * (iron < 1.0).float()
    gathered = (1.0 - need_wood) * (1.0 - need_stone) * (1.0 - need_coal) * (1.0 - need_iron)

    def approach(column: int, gate: torch.Tensor) -> torch.Tensor:
        return 0.02 * (1.0 - nearest_distance[:, column] / 17.0) * gate

    seek = (
        approach(0, need_wood)
        + approach(2, need_stone * (1.0 - need_wood))
        + approach(3, need_coal * (1.0 - need_wood))
        + approach(4, need_iron)
        + approach(6, todo * gathered)
        + approach(5, has_ip)
    )
    gather = (
        0.1
        * doing
        * (
            facing_target[:, 0] * need_wood
            + facing_target[:, 2] * need_stone
            + facing_target[:, 3] * need_coal
            + facing_target[:, 4] * need_iron
        )
    )
    unlocks = (
        0.3 * unlocked[:, 6]  # wood
        + 0.5 * unlocked[:, 20]  # table
        + 1.0 * unlocked[:, 15]  # wood pickaxe
        + 1.0 * unlocked[:, 5]  # stone
        + 1.0 * unlocked[:, 0]  # coal
        + 2.0 * unlocked[:, 13]  # stone pickaxe
        + 2.0 * unlocked[:, 17]  # furnace
        + 3.0 * unlocked[:, 3]  # iron
        + 5.0 * unlocked[:, 11]  # iron pickaxe
    )
    tries = 0.05 * (
        (action == 8).float() * (1.0 - table_seen) * free_front * (1.0 - need_wood) * todo
        + (action == 11).float() * near_table * (wood >= 1.0).float() * (1.0 - has_wp)
        + (action == 12).float() * near_table * (wood >= 1.0).float() * (stone >= 1.0).float() * (1.0 - has_sp)
        + (action == 9).float() * near_table * (stone >= 4.0).float() * free_front * (1.0 - furnace)
        + (action == 13).float() * near_table * furnace * gathered * todo
    )
    diamond = 10.0 * unlocked[:, 1] + 0.1 * facing_target[:, 5] * doing * has_ip
    upkeep = 0.05 * ((vitals_change[:, 1] > 0).float() + (vitals_change[:, 2] > 0).float())
    danger = -0.2 * lava_adjacent - 1.0 * died
    total = seek + gather + unlocks + tries + diamond + upkeep + danger
    return total, {
        "seek": seek,
        "gather": gather,
        "unlocks": unlocks,
        "tries": tries,
        "diamond": diamond,
        "upkeep": upkeep,
        "danger": danger,
    }
