"""Sampling the person of a realistic scene: body proportions, skin, face, hair, pose and lower clothes.

Everything here is a frozen dataclass of numbers drawn once per pair; painting lives in
`synth_figure`, `synth_face`, `synth_hair` and `synth_lower`. Lengths are centimetres of a person
standing upright and facing the camera, with the origin at the base of the neck (the suprasternal
notch), x to the image right and y down: the crown is near y = -32, the waist near 31, the crotch
near 55, mid-thigh near 70 and the floor near 133, scaled by `stature`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimization.data.synth_sampling import hsv, jitter, pick

HAIR_STYLES = ("long_back", "long_front", "ponytail", "bun", "bob", "short", "curly")
HAIR_WEIGHTS = (0.26, 0.2, 0.13, 0.1, 0.12, 0.1, 0.09)
ARM_MODES = ("down", "hip", "pocket", "crossed")
POSES = (
    "arms_down",
    "hands_on_hips",
    "hand_on_hip",
    "hand_in_pocket",
    "hands_in_pockets",
    "arms_crossed",
    "hip_and_pocket",
)
POSE_WEIGHTS = (0.4, 0.07, 0.1, 0.14, 0.05, 0.17, 0.07)
LOWER_KINDS = ("jeans", "trousers", "skirt", "leggings")
LOWER_WEIGHTS = (0.45, 0.25, 0.2, 0.1)
SHOES = ("sneakers", "boots", "heels", "flats")

# Skin albedos as a studio photo renders them, light to dark.
_SKIN = np.array(
    [
        [246, 218, 200],
        [236, 195, 170],
        [220, 172, 142],
        [198, 146, 112],
        [170, 118, 86],
        [142, 94, 66],
        [116, 75, 52],
        [88, 57, 41],
    ],
    np.float64,
)
_HAIR = {
    "black": (24, 21, 21),
    "dark_brown": (48, 34, 27),
    "brown": (86, 58, 40),
    "light_brown": (132, 96, 66),
    "auburn": (116, 52, 32),
    "blond": (196, 160, 112),
    "platinum": (222, 210, 186),
    "grey": (160, 156, 152),
}
_EYES = {
    "dark_brown": (48, 30, 22),
    "brown": (86, 55, 34),
    "hazel": (110, 90, 52),
    "green": (86, 110, 78),
    "blue": (90, 120, 150),
    "grey": (118, 124, 128),
}
_DENIM = (
    (28, 36, 62),
    (44, 62, 102),
    (70, 96, 140),
    (122, 148, 182),
    (34, 34, 38),
    (96, 98, 104),
    (226, 224, 218),
)
_TROUSERS = (
    (28, 28, 32),
    (34, 40, 62),
    (200, 184, 156),
    (232, 226, 214),
    (92, 94, 70),
    (164, 120, 82),
    (120, 120, 124),
    (96, 36, 44),
    (216, 206, 196),
)


@dataclass(frozen=True)
class BodyShape:
    """Proportions in centimetres (see the module docstring for the frame)."""

    stature: float  # multiplies every vertical level
    neck_half: float
    neck_length: float  # from the notch up to the chin
    head_half: float  # half the width of the skull
    head_height: float  # chin to crown
    shoulder_half: float  # to the shoulder tip
    chest_half: float
    waist_half: float
    hip_half: float
    thigh_half: float  # one thigh, at the crotch
    bust: float  # 0 flat .. 1 full
    upper_arm: float  # shoulder joint to elbow
    forearm: float  # elbow to wrist
    arm_half: float  # upper arm half-width
    wrist_half: float
    hand_length: float
    leg_gap: float  # feet apart (cm)

    def level(self, name: str) -> float:
        """World y of a named height on this body."""
        return _LEVELS[name] * self.stature


_LEVELS = {
    "crown": -32.0,
    "neck_side": -4.5,
    "shoulder": 1.0,
    "armpit": 13.0,
    "bust": 17.0,
    "waist": 31.0,
    "hip": 49.0,
    "crotch": 56.0,
    "mid_thigh": 70.0,
    "knee": 87.0,
    "ankle": 125.0,
    "floor": 133.0,
}


@dataclass(frozen=True)
class Skin:
    rgb: tuple[float, float, float]
    tone: float  # 0 lightest .. 1 darkest
    blush: float
    shine: float  # how much the key light glints on it


@dataclass(frozen=True)
class Hair:
    style: str
    colour: str
    rgb: tuple[float, float, float]
    length: float  # how far below the shoulders long hair falls (cm)
    volume: float  # how far it stands off the skull (cm)
    parting: float  # -1 (image left) .. 1, 0 a centre parting
    fringe: bool
    wave: float  # 0 straight .. 1 wavy
    front_sides: tuple[bool, bool]  # long_front: over the image-left / image-right shoulder
    seed: int  # of the irregularities of its outline


@dataclass(frozen=True)
class Face:
    eyes: str
    eye_rgb: tuple[float, float, float]
    lips_rgb: tuple[float, float, float]
    makeup: float  # eyeliner and lashes, 0 .. 1
    brow: float  # brow thickness, 0.6 .. 1.4
    yaw: float  # head turned: -1 .. 1 of the largest turn
    roll: float  # head tilt, degrees
    smile: float


@dataclass(frozen=True)
class ArmPose:
    mode: str  # one of ARM_MODES
    spread: float  # upper arm angle from vertical, degrees outwards
    bend: float  # extra forearm angle, degrees
    reach: tuple[float, float]  # where the hand goes (hip, pocket, crossed), jitter in cm


@dataclass(frozen=True)
class Pose:
    name: str
    arms: tuple[ArmPose, ArmPose]  # image left, image right
    front_arm: int  # which arm is drawn last (crossed arms)
    lean: float  # weight shift: hips move sideways (cm)


@dataclass(frozen=True)
class LowerWear:
    kind: str  # one of LOWER_KINDS
    rgb: tuple[float, float, float]
    rise: float  # waistband y (cm)
    fit: float  # 0 skinny .. 1 wide
    hem: float  # skirt hem y (cm); trousers reach the ankle
    fade: float  # jeans: how much lighter the thigh fronts are


@dataclass(frozen=True)
class Person:
    body: BodyShape
    skin: Skin
    face: Face
    hair: Hair
    pose: Pose
    lower: LowerWear
    shoes: str
    shoes_rgb: tuple[float, float, float]


def _body(rng: np.random.Generator) -> BodyShape:
    u = rng.uniform
    broad = rng.random() < 0.15  # broader shoulders, narrow hips
    stature = u(0.95, 1.06)
    shoulder = u(18.5, 20.5) if broad else u(16.2, 18.0)
    chest = shoulder - u(1.5, 3.0)
    waist = chest - (u(1.0, 3.0) if broad else u(2.0, 4.5)) + max(0.0, rng.normal(0, 1.2))
    hip = waist + (u(1.5, 3.5) if broad else u(3.0, 6.5))
    return BodyShape(
        stature=stature,
        neck_half=u(5.6, 6.4) if broad else u(4.6, 5.4),
        neck_length=u(6.5, 8.5) * stature,
        head_half=u(7.4, 8.1),
        head_height=u(22.5, 24.5) * stature,
        shoulder_half=shoulder,
        chest_half=chest,
        waist_half=waist,
        hip_half=hip,
        thigh_half=u(8.2, 9.6) + 0.3 * (hip - 18.0),
        bust=0.0 if broad else u(0.2, 1.0),
        upper_arm=u(28.0, 31.0) * stature,
        forearm=u(23.5, 26.0) * stature,
        arm_half=u(4.8, 5.6) if broad else u(4.2, 5.0),
        wrist_half=u(2.6, 3.0) if broad else u(2.2, 2.6),
        hand_length=u(16.0, 17.5) * stature,
        leg_gap=u(0.0, 14.0),
    )


def _skin(rng: np.random.Generator) -> Skin:
    tone = float(rng.beta(1.3, 1.6))
    position = tone * (len(_SKIN) - 1)
    low = min(int(position), len(_SKIN) - 2)
    rgb = _SKIN[low] + (_SKIN[low + 1] - _SKIN[low]) * (position - low)
    undertone = pick(rng, ((6, -2, -2), (0, 0, 0), (-1, 2, -5)))
    rgb = np.clip(rgb + np.array(undertone) + rng.normal(0, 3, 3), 0, 255)
    return Skin(
        rgb=tuple(float(v) for v in rgb),
        tone=tone,
        blush=rng.uniform(0.0, 1.0),
        shine=rng.uniform(0.1, 0.6),
    )


def _hair(rng: np.random.Generator, skin: Skin, broad: bool) -> Hair:
    names = list(_HAIR)
    if skin.tone > 0.55:
        weights = (0.55, 0.3, 0.08, 0.02, 0.02, 0.01, 0.0, 0.02)
    else:
        weights = (0.15, 0.22, 0.2, 0.12, 0.08, 0.14, 0.04, 0.05)
    colour = pick(rng, names, weights)
    style_weights = (0.04, 0.02, 0.04, 0.04, 0.1, 0.7, 0.06) if broad else HAIR_WEIGHTS
    style = pick(rng, HAIR_STYLES, style_weights)
    if style == "curly" and skin.tone > 0.55 and rng.random() < 0.5:
        colour = "black"
    both = rng.random() < 0.55
    left = both or rng.random() < 0.5
    return Hair(
        style=style,
        colour=colour,
        rgb=jitter(rng, _HAIR[colour], 6.0),
        length=rng.uniform(4.0, 30.0),
        volume={"curly": rng.uniform(3.5, 7.0), "short": rng.uniform(1.2, 2.4)}.get(
            style, rng.uniform(0.6, 1.8)
        ),
        parting=float(np.clip(rng.normal(0.0, 0.55), -1, 1)),
        fringe=bool(rng.random() < 0.2),
        wave=float(rng.beta(1.2, 2.5)),
        front_sides=(left, both or not left),
        seed=int(rng.integers(2**31)),
    )


def _face(rng: np.random.Generator, skin: Skin) -> Face:
    names = list(_EYES)
    weights = (
        (0.5, 0.4, 0.1, 0.0, 0.0, 0.0) if skin.tone > 0.5 else (0.2, 0.25, 0.15, 0.12, 0.18, 0.1)
    )
    eyes = pick(rng, names, weights)
    natural = np.array(skin.rgb) * np.array([0.86, 0.62, 0.62]) + np.array([14, 0, 4])
    lipstick = pick(rng, ((170, 40, 50), (200, 90, 110), (120, 40, 60), (180, 110, 100)))
    paint = rng.uniform(0, 0.8) if rng.random() < 0.45 else 0.0
    lips = natural + (np.array(lipstick) - natural) * paint
    return Face(
        eyes=eyes,
        eye_rgb=jitter(rng, _EYES[eyes], 6.0),
        lips_rgb=tuple(float(v) for v in np.clip(lips, 0, 255)),
        makeup=rng.uniform(0.0, 1.0),
        brow=rng.uniform(0.7, 1.3),
        yaw=float(np.clip(rng.normal(0.0, 0.35), -1, 1)),
        roll=rng.normal(0.0, 3.0),
        smile=rng.uniform(0.0, 0.6),
    )


def _arm(rng: np.random.Generator, mode: str) -> ArmPose:
    u = rng.uniform
    if mode == "down":
        return ArmPose(mode, u(3.0, 13.0), u(-2.0, 12.0), (0.0, 0.0))
    if mode == "hip":
        return ArmPose(mode, 0.0, 0.0, (u(-1.0, 2.5), u(-5.0, 4.0)))
    if mode == "pocket":
        return ArmPose(mode, 0.0, 0.0, (u(-2.0, 2.0), u(-2.0, 3.0)))
    return ArmPose(mode, u(-1.0, 6.0), 0.0, (u(-2.0, 5.0), u(-3.0, 5.0)))


def _pose(rng: np.random.Generator) -> Pose:
    name = pick(rng, POSES, POSE_WEIGHTS)
    side = int(rng.integers(2))
    modes = {
        "arms_down": ("down", "down"),
        "hands_on_hips": ("hip", "hip"),
        "hand_on_hip": ("hip", "down"),
        "hand_in_pocket": ("pocket", "down"),
        "hands_in_pockets": ("pocket", "pocket"),
        "arms_crossed": ("crossed", "crossed"),
        "hip_and_pocket": ("hip", "pocket"),
    }[name]
    if side:
        modes = modes[::-1]
    arms = (_arm(rng, modes[0]), _arm(rng, modes[1]))
    return Pose(name=name, arms=arms, front_arm=int(rng.integers(2)), lean=rng.normal(0.0, 1.0))


def _lower(rng: np.random.Generator) -> LowerWear:
    u = rng.uniform
    kind = pick(rng, LOWER_KINDS, LOWER_WEIGHTS)
    if kind == "jeans":
        rgb = pick(rng, _DENIM, (0.2, 0.25, 0.18, 0.12, 0.13, 0.06, 0.06))
    elif kind == "leggings":
        rgb = pick(rng, ((24, 24, 28), (40, 40, 46), (70, 64, 70)))
    elif kind == "skirt" and rng.random() < 0.4:
        rgb = hsv(rng.random(), u(0.2, 0.7), u(0.3, 0.85))
    else:
        rgb = pick(rng, _TROUSERS)
    return LowerWear(
        kind=kind,
        rgb=jitter(rng, rgb, 5.0),
        rise=u(27.0, 40.0),
        fit=u(0.0, 0.4) if kind in ("jeans", "leggings") else u(0.2, 1.0),
        hem=u(62.0, 95.0),
        fade=u(0.0, 0.6) if kind == "jeans" else 0.0,
    )


def sample_person(rng: np.random.Generator) -> Person:
    """A random person; the draws are made in a fixed order, so a seed gives one person."""
    body = _body(rng)
    skin = _skin(rng)
    hair = _hair(rng, skin, broad=body.bust == 0.0)
    face = _face(rng, skin)
    pose = _pose(rng)
    lower = _lower(rng)
    shoes = pick(rng, SHOES)
    shoes_rgb = pick(rng, ((240, 240, 236), (26, 26, 28), (120, 80, 50), (210, 180, 160)))
    return Person(body, skin, face, hair, pose, lower, shoes, jitter(rng, shoes_rgb, 4.0))
