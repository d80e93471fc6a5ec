"""Slurm's Fair Tree (policies.sshare) against Slurm's own regression test, test24.4.

The tree and the expected ``sshare -l -P`` lines are those of Slurm's
``testsuite/expect/test24.4`` and ``test24.4.prog.c`` (SchedMD/slurm, GPL-2.0-or-later;
facts of its expected output, not its code): users under accounts and at the root, zero
shares (aC), ``Fairshare=parent`` accounts and users (aD, aDA), tied accounts with no usage
(aE, aF), a user tied with a sibling account (aG), and two ratios equal on paper that do
not tie in long double (uD2 against uD3)."""

from __future__ import annotations

from policies.sshare import PARENT, Node, fair_tree, parsable, sshare

EXPECTED = """\
root|||0.000000|240||1.000000||||cpu=0|
root|u1|10|0.048077|0|0.000000|0.000000|1.000000|inf||cpu=0|
root|u2|10|0.048077|10|0.041667|0.041667|0.666667|1.153846||cpu=0|
aA||40|0.192308|45|0.187500|0.187500||1.025641||cpu=0|
aAA||30|0.750000|20|0.083333|0.444444||1.687500||cpu=0|
aAA|uAA1|1|1.000000|20|0.083333|1.000000|0.619048|1.000000||cpu=0|
aAB||10|0.250000|25|0.104167|0.555556||0.450000||cpu=0|
aAB|uAB1|1|0.500000|25|0.104167|1.000000|0.523810|0.500000||cpu=0|
aAB|uAB2|1|0.500000|0|0.000000|0.000000|0.571429|inf||cpu=0|
aB||60|0.288462|25|0.104167|0.104167||2.769231||cpu=0|
aBA||25|0.416667|25|0.104167|1.000000||0.416667||cpu=0|
aBA|uBA1|1|1.000000|25|0.104167|1.000000|0.714286|1.000000||cpu=0|
aBB||35|0.583333|0|0.000000|0.000000||inf||cpu=0|
aBB|uBB1|1|1.000000|0|0.000000|0.000000|0.761905|inf||cpu=0|
aC||0|0.000000|30|0.125000|0.125000||0.000000||cpu=0|
aC|uC1|0|0.000000|30|0.125000|1.000000|0.047619|0.000000||cpu=0|
aD||50|0.240385|110|0.458333|0.458333||0.524476||cpu=0|
aD|uD1|parent|0.240385|20|0.083333|0.181818|0.476190|||cpu=0|
aD|uD2|40|0.235294|20|0.083333|0.181818|0.238095|1.294118||cpu=0|
aD|uD3|50|0.294118|25|0.104167|0.227273|0.333333|1.294118||cpu=0|
aDA||parent|0.240385|45|0.187500|0.409091||||cpu=0|
aDA|uDA1|parent|0.240385|10|0.041667|0.090909|0.476190|||cpu=0|
aDA|uDA2|30|0.176471|10|0.041667|0.090909|0.380952|1.941176||cpu=0|
aDA|uDA3|50|0.294118|25|0.104167|0.227273|0.333333|1.294118||cpu=0|
aE||10|0.048077|0|0.000000|0.000000||inf||cpu=0|
aE|aE1|10|0.500000|0|0.000000|0.000000|1.000000|inf||cpu=0|
aE|aE2|10|0.500000|0|0.000000|0.000000|1.000000|inf||cpu=0|
aF||20|0.096154|0|0.000000|0.000000||inf||cpu=0|
aF|uF1|10|0.333333|0|0.000000|0.000000|1.000000|inf||cpu=0|
aF|uF2|20|0.666667|0|0.000000|0.000000|1.000000|inf||cpu=0|
aG||8|0.038462|20|0.083333|0.083333||0.461538||cpu=0|
aG|uG1|10|0.500000|10|0.041667|0.500000|0.190476|1.000000||cpu=0|
aGA||10|0.500000|10|0.041667|0.500000||1.000000||cpu=0|
aGA|uGA1|20|0.500000|4|0.016667|0.400000|0.190476|1.250000||cpu=0|
aGA|uGA2|20|0.500000|6|0.025000|0.600000|0.095238|0.833333||cpu=0|
"""


def user(name: str, shares: float | None, usage: float) -> Node:
    return Node(name, shares, usage, user=True)


def account(name: str, shares: float | None, *children: Node) -> Node:
    return Node(name, shares, children=list(children))


def slurm_test24_4_tree() -> Node:
    """test24.4.prog.c's associations, users before sub-accounts as sshare lists them."""
    return account(
        "root",
        None,
        user("u1", 10, 0),
        user("u2", 10, 10),
        account(
            "aA",
            40,
            account("aAA", 30, user("uAA1", 1, 20)),
            account("aAB", 10, user("uAB1", 1, 25), user("uAB2", 1, 0)),
        ),
        account(
            "aB",
            60,
            account("aBA", 25, user("uBA1", 1, 25)),
            account("aBB", 35, user("uBB1", 1, 0)),
        ),
        account("aC", 0, user("uC1", 0, 30)),
        account(
            "aD",
            50,
            user("uD1", PARENT, 20),
            user("uD2", 40, 20),
            user("uD3", 50, 25),
            account(
                "aDA",
                PARENT,
                user("uDA1", PARENT, 10),
                user("uDA2", 30, 10),
                user("uDA3", 50, 25),
            ),
        ),
        account("aE", 10, user("aE1", 10, 0), user("aE2", 10, 0)),
        account("aF", 20, user("uF1", 10, 0), user("uF2", 20, 0)),
        account(
            "aG",
            8,
            user("uG1", 10, 10),
            account("aGA", 10, user("uGA1", 20, 4), user("uGA2", 20, 6)),
        ),
    )


def test_slurm_test24_4_sshare_lines_are_printed_exactly() -> None:
    got = [parsable(row) for row in sshare(slurm_test24_4_tree())]
    assert got == EXPECTED.splitlines()


def test_tied_users_share_a_rank_and_zero_shares_come_last() -> None:
    root = slurm_test24_4_tree()
    by_id = fair_tree(root)
    factors = {n.name: by_id[id(n)] for n in root.walk() if n.user}
    assert factors["aE1"] == factors["aE2"] == factors["uF1"] == factors["u1"] == 1.0
    assert factors["uG1"] == factors["uGA1"]  # a user tied with its sibling account
    assert min(factors.values()) == factors["uC1"] == 1 / 21
