"""Fake but plausible personal data of the street's residents (pure, seeded by the caller).

Nothing here is real: names are drawn from common surnames and given-name characters,
resident ID numbers follow GB 11643-1999 (region code, birth date, sequence with the sex in
its parity, ISO 7064 MOD 11-2 check character), phone numbers use mainland mobile prefixes.
"""

from __future__ import annotations

import random

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
            "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷"
            "侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞志宇浩然子涵"
         "欣怡梓轩雨萱俊博思远佳琪晨阳海燕春梅秋菊振东立新德福淑珍凤琴金凤永昌")
# 滨州市滨城区 and neighbouring districts: where the street's residents are registered.
REGION_CODES = ("371602", "371602", "371602", "371603", "371621", "371622", "370102")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                   "151", "152", "155", "156", "157", "158", "159", "176", "177", "180",
                   "181", "182", "186", "187", "188", "189", "199")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def person_name(rng: random.Random) -> str:
    """A Chinese full name: one surname and one or two given-name characters."""
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_number(rng: random.Random, birth_year: int, male: bool) -> str:
    """An 18-character resident ID number with a valid check character."""
    month = rng.randint(1, 12)
    day = rng.randint(1, _MONTH_DAYS[month - 1])
    sequence = rng.randrange(0, 1000)
    if (sequence % 2 == 1) != male:  # odd sequence numbers are men
        sequence = (sequence + 1) % 1000
    first17 = f"{rng.choice(REGION_CODES)}{birth_year:04d}{month:02d}{day:02d}{sequence:03d}"
    return first17 + id_check_char(first17)


def mobile_phone(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(0, 100_000_000):08d}"


def birth_year(rng: random.Random, now_year: int = 2025) -> int:
    """A birth year with the street's age structure (more adults, a sizeable elderly share)."""
    age = min(99, max(0, int(rng.triangular(0, 95, 42))))
    return now_year - age
