"""Data access for the reward catalog, reward stock and attributions. One method per access pattern."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import Pace, batch_get, batch_put
from loyalty_engine.kernel.batch import key as table_key
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.dynamo import error_code, from_item, map_error, serialize, to_item
from loyalty_engine.kernel.item_access import newest_first
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE
from loyalty_engine.rewards.code_store import CodeStore
from loyalty_engine.rewards.models import Attribution, Burn, MasterReward


class BurnRefused(Exception):
    """The attribution changed since it was read (fully burned meanwhile), or this burn is recorded."""

    def __init__(self, current: Attribution | None):
        super().__init__("burn refused")
        self.current = current


class StockChanged(Exception):
    """Units were taken concurrently since the stock was read: read again."""


@dataclass(frozen=True)
class Stock:
    taken: int = 0  # units (and, with codes=loaded, codes) handed out
    loaded: int = 0  # codes loaded (codes=loaded only)


def stock_of(values: dict[str, Any] | None, chunk_of: tuple[str, int] | None = None) -> Stock:
    """The counters; with `chunk_of` (job, chunk), as that chunk found them: a replayed chunk's
    own reservation (its markers) is not counted as taken."""
    values = values or {}
    taken = int(values.get("taken", 0))
    names = _stock_names(chunk_of[0]) if chunk_of else {}
    for chunk, first in (("#c", "#s"), ("#pc", "#ps")):
        if chunk_of and values.get(names[chunk]) == chunk_of[1]:
            taken = int(values[names[first]]) - 1
    return Stock(taken=taken, loaded=int(values.get("loaded", 0)))


@dataclass(frozen=True)
class Reservation:
    first_unit: int  # units first_unit .. first_unit + units - 1 are this reservation's
    units: int


_PRIOR = ("prior_chunk", "prior_state")


def reward_item(
    group: str, reward: MasterReward, chunk_tag: str | None = None, prior: MasterReward | None = None
) -> dict[str, Any]:
    """The catalog item. An import also keeps the state from before its chunk (`prior_*`):
    a chunk replayed after a crash then decides from the same state as its first attempt."""
    extra: dict[str, Any] = {}
    if chunk_tag is not None:
        extra = {"prior_chunk": chunk_tag, "prior_state": prior.model_dump_json() if prior else ""}
    return item(
        keys.rewards_pk(group),
        keys.reward_sk(reward.external_id),
        "reward",
        reward.model_dump(mode="json"),
        **extra,
    )


def _reward(values: dict[str, Any]) -> MasterReward:
    data = data_of(values)
    for name in _PRIOR:
        data.pop(name, None)
    return MasterReward.model_validate(data)


def attribution_item(group: str, attribution: Attribution) -> dict[str, Any]:
    return item(
        keys.attribution_pk(group, attribution.attribution_id),
        keys.ATTRIBUTION_SK,
        "attribution",
        attribution.model_dump(mode="json") | {"burn_sources": [b.source for b in attribution.burns]},
        **{
            GSI1.partition_key: keys.member_attributions_gsi1pk(group, attribution.card_code),
            GSI1.sort_key: f"{attribution.created_at.isoformat()}#{attribution.attribution_id}",
        },
    )


def _attribution(values: dict[str, Any]) -> Attribution:
    data = data_of(values)
    data.pop("burn_sources", None)
    return Attribution.model_validate(data)


def _stock_names(job_id: str) -> dict[str, str]:
    """A job's reservation markers on a stock item: the last chunk's (chunk, units, first unit)
    and the one before (a checkpoint lags one chunk, so a replay may ask for either)."""
    return {f"#{m}": f"{'r' + m if len(m) == 1 else m}_{job_id}" for m in ("c", "n", "s", "pc", "pn", "ps")}


class RewardStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self.codes = CodeStore(client, table)  # a reward's loaded codes

    # --- catalog ---------------------------------------------------------------------------

    def rewards_with_stock(
        self, group: str, external_ids: list[str]
    ) -> dict[str, tuple[MasterReward, Stock]]:
        """Rewards and their stock counters, in one BatchGetItem per 50 rewards."""
        pk = keys.rewards_pk(group)
        wanted = [(pk, keys.reward_sk(e)) for e in external_ids] + [
            (pk, keys.stock_sk(e)) for e in external_ids
        ]
        found = batch_get(self._client, self._table, wanted)
        result: dict[str, tuple[MasterReward, Stock]] = {}
        for external_id in external_ids:
            values = found.get((pk, keys.reward_sk(external_id)))
            if values is None:
                continue
            result[external_id] = (_reward(values), stock_of(found.get((pk, keys.stock_sk(external_id)))))
        return result

    def rewards(self, group: str, external_ids: list[str]) -> dict[str, MasterReward]:
        pk = keys.rewards_pk(group)
        found = batch_get(self._client, self._table, [(pk, keys.reward_sk(e)) for e in external_ids])
        return {values["external_id"]: _reward(values) for values in found.values()}

    def rewards_before_chunk(
        self, group: str, external_ids: list[str], chunk_tag: str, threads: int = 1
    ) -> dict[str, MasterReward | None]:
        """Each reward as it was before the chunk `chunk_tag` (None: it did not exist)."""
        pk = keys.rewards_pk(group)
        found = batch_get(
            self._client, self._table, [(pk, keys.reward_sk(e)) for e in external_ids], threads=threads
        )
        result: dict[str, MasterReward | None] = {}
        for values in found.values():
            if values.get("prior_chunk") == chunk_tag:
                prior = values.get("prior_state") or ""
                result[values["external_id"]] = MasterReward.model_validate_json(prior) if prior else None
            else:
                result[values["external_id"]] = _reward(values)
        return result

    def put_reward(self, group: str, reward: MasterReward) -> None:
        try:
            self._client.put_item(TableName=self._table, Item=to_item(reward_item(group, reward)))
        except ClientError as error:
            raise (map_error(error) or error) from error

    def put_items(self, items: list[dict[str, Any]], pace: Pace | None = None, threads: int = 1) -> int:
        """Write prepared items (rewards, attributions, skipped lines) in batches (see batch_put)."""
        return batch_put(self._client, self._table, items, pace, threads)

    def reward_page(
        self, group: str, limit: int, cursor: str | None
    ) -> tuple[list[tuple[MasterReward, Stock]], str | None]:
        pk = keys.rewards_pk(group)
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": keys.REWARD_PREFIX}},
            "Limit": limit,
        }
        if cursor:
            params["ExclusiveStartKey"] = table_key(pk, decode_cursor(cursor, prefix=keys.REWARD_PREFIX))
        response = self._query(params)
        rewards = [_reward(from_item(raw)) for raw in response.get("Items", [])]
        stocks = self.stocks_of(group, [r.external_id for r in rewards]) if rewards else {}
        last = response.get("LastEvaluatedKey")
        page = [(r, stocks.get(r.external_id, Stock())) for r in rewards]
        return page, encode_cursor(last[SORT_KEY]["S"]) if last else None

    # --- stock -----------------------------------------------------------------------------

    def reserve(
        self, group: str, external_id: str, job_id: str, chunk: int, units: int, limit: int | None
    ) -> Reservation | None:
        """Take `units` for one chunk of an import, once: a replayed chunk gets its first reservation.

        Returns None when fewer than `units` are left (the caller asks for fewer); `units` is
        never more than `limit` (None: an unlimited reward, whose units are only counted). The
        job's markers stay on the stock item until the job ends (`release_job`).
        """
        names = _stock_names(job_id) | {"#taken": "taken", "#type": TYPE_ATTRIBUTE}
        condition = "attribute_not_exists(#c) OR #c < :c"
        values: dict[str, Any] = {}
        if limit is not None:
            condition = f"({condition}) AND (attribute_not_exists(#taken) OR #taken <= :room)"
            values[":room"] = serialize(limit - units)
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=table_key(keys.rewards_pk(group), keys.stock_sk(external_id)),
                UpdateExpression=(
                    "SET #taken = if_not_exists(#taken, :zero) + :n, #s = if_not_exists(#taken, :zero) + :one, "
                    "#c = :c, #n = :n, #pc = if_not_exists(#c, :none), #pn = if_not_exists(#n, :zero), "
                    "#ps = if_not_exists(#s, :zero), #type = :type"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values
                | {
                    ":zero": serialize(0),
                    ":one": serialize(1),
                    ":none": serialize(-1),
                    ":n": serialize(units),
                    ":c": serialize(chunk),
                    ":type": serialize("reward_stock"),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error
            old = from_item(error.response.get("Item") or {})
            for c, first, n in (("#c", "#s", "#n"), ("#pc", "#ps", "#pn")):
                if old.get(names[c]) == chunk:
                    return Reservation(first_unit=int(old[names[first]]), units=int(old[names[n]]))
            return None
        new = from_item(response["Attributes"])
        return Reservation(first_unit=int(new[names["#s"]]), units=units)

    def stocks_of(
        self, group: str, external_ids: list[str], chunk_of: tuple[str, int] | None = None
    ) -> dict[str, Stock]:
        """Each reward's stock counters (the stock items only), as `stock_of` reads them."""
        pk = keys.rewards_pk(group)
        found = batch_get(self._client, self._table, [(pk, keys.stock_sk(e)) for e in external_ids])
        return {e: stock_of(found.get((pk, keys.stock_sk(e))), chunk_of) for e in external_ids}

    def stock(self, group: str, external_id: str) -> Stock:
        return self.stocks_of(group, [external_id])[external_id]

    def release_job(self, group: str, external_id: str, job_id: str) -> None:
        """Forget a finished job's reservation markers (the units stay taken)."""
        names = _stock_names(job_id)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=table_key(keys.rewards_pk(group), keys.stock_sk(external_id)),
                UpdateExpression="REMOVE #c, #n, #s, #pc, #pn, #ps",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames=names | {"#pk": PARTITION_KEY},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error

    def take_action(self, group: str, external_id: str, read_taken: int | None, units: int) -> dict[str, Any]:
        """A transaction action taking `units` if nobody took any since `read_taken` was read
        (None: an unlimited reward's units, only counted: no condition, no lost race)."""
        stock_key = table_key(keys.rewards_pk(group), keys.stock_sk(external_id))
        values: dict[str, Any] = {
            ":n": serialize(units),
            ":zero": serialize(0),
            ":type": serialize("reward_stock"),
        }
        condition: dict[str, Any] = {}
        if read_taken:
            values[":read"] = serialize(read_taken)
            condition = {"ConditionExpression": "#taken = :read"}
        elif read_taken == 0:
            condition = {"ConditionExpression": "attribute_not_exists(#taken) OR #taken = :zero"}
        return {
            "Update": {
                "TableName": self._table,
                "Key": stock_key,
                "UpdateExpression": "SET #taken = if_not_exists(#taken, :zero) + :n, #type = :type",
                "ExpressionAttributeNames": {"#taken": "taken", "#type": TYPE_ATTRIBUTE},
                "ExpressionAttributeValues": values,
                **condition,
            }
        }

    # --- attributions ----------------------------------------------------------------------

    def attributions(self, group: str, attribution_ids: list[str]) -> dict[str, Attribution]:
        wanted = [(keys.attribution_pk(group, a), keys.ATTRIBUTION_SK) for a in attribution_ids]
        found = batch_get(self._client, self._table, wanted)
        return {values["attribution_id"]: _attribution(values) for values in found.values()}

    def cards_and_attributions(
        self, group: str, card_codes: list[str], attribution_ids: list[str], threads: int = 1
    ) -> tuple[dict[str, str], dict[str, Attribution]]:
        """(program of each existing card, existing attributions), read together in 100-key batches."""
        wanted = [(keys.member_pk(group, c), keys.MEMBER_SK) for c in card_codes] + [
            (keys.attribution_pk(group, a), keys.ATTRIBUTION_SK) for a in attribution_ids
        ]
        # members carry their lots: read only what is needed of them (a projection is per request)
        projection = tuple(
            dict.fromkeys(("card_code", "program_id", *Attribution.model_fields, "burn_sources"))
        )
        found = batch_get(self._client, self._table, wanted, projection=projection, threads=threads)
        programs: dict[str, str] = {}
        attributions: dict[str, Attribution] = {}
        for values in found.values():
            if values[SORT_KEY] == keys.MEMBER_SK:
                programs[values["card_code"]] = values["program_id"]
            else:
                attribution = _attribution(values)
                attributions[attribution.attribution_id] = attribution
        return programs, attributions

    def attribution(self, group: str, attribution_id: str) -> Attribution | None:
        return self.attributions(group, [attribution_id]).get(attribution_id)

    def new_attribution_action(self, group: str, attribution: Attribution) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item(attribution_item(group, attribution)),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            }
        }

    def add_burn(self, group: str, attribution_id: str, burn: Burn, quantity: int) -> Attribution:
        """Record a burn unless the units are gone or this burn (its source) is already recorded.

        `quantity` is the attribution's (it never changes): the condition keeps burned <= quantity.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=table_key(keys.attribution_pk(group, attribution_id), keys.ATTRIBUTION_SK),
                UpdateExpression=(
                    "SET #burned = #burned + :q, #burns = list_append(#burns, :burn), "
                    "#sources = list_append(#sources, :source)"
                ),
                ConditionExpression="attribute_exists(#pk) AND #burned <= :room AND NOT contains(#sources, :src)",
                ExpressionAttributeNames={
                    "#pk": PARTITION_KEY,
                    "#burned": "burned",
                    "#burns": "burns",
                    "#sources": "burn_sources",
                },
                ExpressionAttributeValues={
                    ":q": serialize(burn.quantity),
                    ":burn": serialize([burn.model_dump(mode="json")]),
                    ":source": serialize([burn.source]),
                    ":src": serialize(burn.source),
                    ":room": serialize(quantity - burn.quantity),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error
            old = error.response.get("Item")
            raise BurnRefused(_attribution(from_item(old)) if old else None) from error
        return _attribution(from_item(response["Attributes"]))

    def member_attribution_page(
        self, group: str, card_code: str, limit: int, cursor: str | None
    ) -> tuple[list[Attribution], str | None]:
        gsi_pk = keys.member_attributions_gsi1pk(group, card_code)
        params = newest_first(self._table, gsi_pk, limit, GSI1)
        if cursor:
            gsi_sk = decode_cursor(cursor, separator="#")
            attribution_id = gsi_sk.split("#", 1)[1]  # gsi1sk is `<created at>#<attribution id>`
            params["ExclusiveStartKey"] = table_key(
                keys.attribution_pk(group, attribution_id), keys.ATTRIBUTION_SK
            ) | {
                GSI1.partition_key: {"S": gsi_pk},
                GSI1.sort_key: {"S": gsi_sk},
            }
        response = self._query(params)
        page = [_attribution(from_item(raw)) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = None
        if last:
            next_cursor = encode_cursor(last[GSI1.sort_key]["S"])
        return page, next_cursor

    def _query(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._client.query(**params)
        except ClientError as error:
            raise (map_error(error) or error) from error
        return response
