"""The synthetic mannequin: body proportions, arm poses, drawing, and the garment-space-to-body map.

Garments are designed in a *canonical* garment space (units: pixels of a canonical body whose
shoulder line is 84 units wide, origin at the base of the neck, y down). A body maps that space
onto itself with a piecewise-linear map in y through six levels (neck base, shoulder tip, armpit,
waist, hip, thigh) and, across, a cylinder projection scaled to the body's half-width at each level,
so a garment drawn once fits every body and its print wraps round the torso.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimization.data.synth_draw import (
    ARM,
    GRID_X,
    GRID_Y,
    HAIR,
    HEIGHT,
    SKIN,
    TROUSERS,
    WIDTH,
    Canvas,
    Layer,
    box_around,
    ellipse_layer,
    gaussian_blur,
    interp_linear,
    lines_layer,
    mix,
    polygon_layer,
    scaled,
)

POSES = ("sides", "raised", "crossed", "hand_on_hip", "hands_on_hips")
POSE_WEIGHTS = (0.28, 0.15, 0.29, 0.14, 0.14)
HAIR_STYLES = ("short", "bob", "long_back", "long_front", "bun")

# Canonical body: y of the six levels and the torso half-width there (garment-space units).
CANONICAL_LEVELS = np.array([0.0, 8.0, 46.0, 90.0, 125.0, 170.0])
CANONICAL_HALF_WIDTHS = np.array([28.0, 42.0, 37.0, 33.0, 37.0, 38.0])
# A sleeve this long (from the armhole) reaches the wrist.
CANONICAL_ARM_LENGTH = 100.0

_SKIN_TONES = np.array(
    [
        [241, 212, 190],
        [226, 186, 155],
        [200, 150, 112],
        [165, 113, 78],
        [120, 80, 54],
        [82, 55, 40],
    ],
    np.float64,
)
_HAIR_COLOURS = {
    "black": (28, 24, 22),
    "dark_brown": (62, 42, 30),
    "brown": (112, 76, 48),
    "blond": (196, 160, 106),
    "red": (146, 70, 40),
    "grey": (158, 156, 152),
}
_TROUSER_COLOURS = {
    "denim": (64, 86, 128),
    "dark_denim": (38, 48, 74),
    "black": (32, 32, 36),
    "beige": (201, 185, 154),
    "grey": (122, 122, 128),
    "white": (232, 231, 226),
    "olive": (96, 100, 70),
    "light_blue": (150, 180, 214),
}


def _r(value: float) -> float:
    return round(float(value), 3)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


@dataclass(frozen=True, eq=False)
class Arm:
    """One arm as two bones: shoulder joint -> elbow -> wrist, in frame pixels."""

    side: int  # -1: image left, +1: image right
    joint: np.ndarray
    elbow: np.ndarray
    wrist: np.ndarray
    upper_half: float  # half-width of the upper arm at the shoulder (px)
    fore_half: float  # half-width at the wrist
    hand_length: float

    @property
    def upper_length(self) -> float:
        return float(np.hypot(*(self.elbow - self.joint)))

    @property
    def length(self) -> float:
        return self.upper_length + float(np.hypot(*(self.wrist - self.elbow)))

    def half_width(self, u: np.ndarray) -> np.ndarray:
        """Arm half-width (px) at arc length `u` from the shoulder joint."""
        return np.interp(
            u,
            [0.0, self.upper_length, self.length],
            [self.upper_half, self.upper_half * 0.8, self.fore_half],
        ).astype(np.float32)


@dataclass(frozen=True, eq=False)
class ArmField:
    """Arm-centred coordinates over the frame region `box`.

    `u`: arc length (px) along shoulder -> elbow -> wrist, negative past the shoulder joint;
    `across`: signed distance (px) from the arm's axis, positive on the inner (armpit) side;
    `skin_distance`: distance to the axis with round ends, for the arm's outline.
    """

    box: tuple[slice, slice]
    u: np.ndarray
    across: np.ndarray
    skin_distance: np.ndarray


@dataclass(frozen=True, eq=False)
class Body:
    """A sampled mannequin; `params` is its JSON description."""

    params: dict
    centre_x: float
    shoulder_y: float
    levels: np.ndarray  # frame y of CANONICAL_LEVELS
    half_widths: np.ndarray  # torso half-width (px) at those levels
    neck_half: float
    head_centre: tuple[float, float]
    head_axes: tuple[float, float]
    arms: tuple[Arm, Arm]
    arm_order: tuple[int, int]  # drawing order, the last one in front

    @property
    def skin(self) -> np.ndarray:
        return np.asarray(self.params["skin"], np.float32)

    def to_body(
        self, x: np.ndarray, y: np.ndarray, cylinder: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Canonical garment-space points -> frame pixels."""
        body_y = interp_linear(y, CANONICAL_LEVELS, self.levels)
        canonical_half = np.interp(y, CANONICAL_LEVELS, CANONICAL_HALF_WIDTHS)
        body_half = np.interp(body_y, self.levels, self.half_widths)
        angle = np.clip(cylinder * x / canonical_half, -np.pi / 2, np.pi / 2)
        return self.centre_x + body_half * np.sin(angle) / math.sin(cylinder), body_y

    def to_canonical(
        self, x: np.ndarray, y: np.ndarray, cylinder: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Frame pixels -> canonical garment space (the inverse of `to_body`); float32."""
        canonical_y = interp_linear(y, self.levels, CANONICAL_LEVELS)
        body_half = np.interp(y, self.levels, self.half_widths)
        canonical_half = np.interp(canonical_y, CANONICAL_LEVELS, CANONICAL_HALF_WIDTHS)
        ratio = np.clip((x - self.centre_x) / body_half * math.sin(cylinder), -1.0, 1.0)
        canonical_x = canonical_half * np.arcsin(ratio) / cylinder
        return canonical_x.astype(np.float32), canonical_y.astype(np.float32)


def _direction(angle_deg: float, side: int) -> np.ndarray:
    """Unit vector `angle_deg` from straight down, positive angles turning outwards on `side`."""
    angle = math.radians(angle_deg)
    return np.array([side * math.sin(angle), math.cos(angle)])


def _two_bone(joint: np.ndarray, target: np.ndarray, upper: float, fore: float, side: int):
    """Elbow and wrist reaching for `target` with the elbow bent outwards."""
    delta = target - joint
    reach = float(np.hypot(*delta))
    along = delta / max(reach, 1e-6)
    reach = float(np.clip(reach, abs(upper - fore) + 1.0, upper + fore - 0.5))
    to_elbow = (upper**2 - fore**2 + reach**2) / (2 * reach)
    bend = math.sqrt(max(upper**2 - to_elbow**2, 0.0))
    normal = np.array([-along[1], along[0]])
    if normal[0] * side < 0:
        normal = -normal
    elbow = joint + to_elbow * along + bend * normal
    towards = target - elbow
    wrist = elbow + fore * towards / max(float(np.hypot(*towards)), 1e-6)
    return elbow, wrist


def sample_body(rng: np.random.Generator) -> Body:
    """A random mannequin: proportions, skin, hair, trousers, background and arm pose."""
    u = rng.uniform
    size = u(1.0, 1.12)
    centre_x = WIDTH / 2 + u(-5, 5)
    shoulder_y = u(72, 80) + 8 * (size - 1)
    torso = u(0.94, 1.06) * size
    shoulder_half = u(38, 46) * size
    waist_half = shoulder_half - u(6, 11)
    hip_half = waist_half + u(3, 9)
    neck_y = shoulder_y - 6
    levels = np.array(
        [
            neck_y,
            shoulder_y + 6,
            shoulder_y + 36 * torso,
            shoulder_y + 84 * torso,
            shoulder_y + 116 * torso,
            shoulder_y + 160 * torso,
        ]
    )
    half_widths = np.array(
        [shoulder_half * 0.667, shoulder_half, shoulder_half - 4, waist_half, hip_half, hip_half]
    )
    neck_half = u(6.5, 8.5) * size
    head_rx = u(14.5, 16.5) * size
    head_ry = head_rx * u(1.2, 1.3)
    head_centre = (centre_x + u(-2, 2), neck_y - u(13, 17) - head_ry)

    tone = u(0, len(_SKIN_TONES) - 1)
    low = int(min(math.floor(tone), len(_SKIN_TONES) - 2))
    skin = _SKIN_TONES[low] + (_SKIN_TONES[low + 1] - _SKIN_TONES[low]) * (tone - low)
    skin = np.clip(skin + rng.normal(0, 4, 3), 0, 255)
    hair_name = _pick(rng, list(_HAIR_COLOURS))
    hair = np.clip(np.array(_HAIR_COLOURS[hair_name]) * u(0.85, 1.15), 0, 255)
    trousers_name = _pick(rng, list(_TROUSER_COLOURS))
    trousers = np.clip(np.array(_TROUSER_COLOURS[trousers_name]) + rng.normal(0, 6, 3), 0, 255)
    grey = u(206, 248)
    background = np.clip(grey + rng.normal(0, 4, 3), 0, 255)

    upper = u(49, 56) * size
    fore = upper * u(0.86, 0.95)
    upper_half = u(6.8, 8.2) * size
    fore_half = upper_half * u(0.72, 0.82)
    hand_length = u(13, 16) * size
    pose = POSES[int(rng.choice(len(POSES), p=POSE_WEIGHTS))]
    hip_side = int(rng.choice([-1, 1]))
    cross_height = u(0, 14)  # how far the crossed forearms rise from the elbows
    cross_gap = u(5, 12) * rng.choice([-1, 1])

    arms, angles = [], []
    for side in (-1, 1):
        joint = np.array([centre_x + side * (shoulder_half - 8), shoulder_y + 13])
        mode = pose
        if pose == "hand_on_hip":
            mode = "hands_on_hips" if side == hip_side else "sides"
        if mode == "sides":
            upper_angle = u(4, 14)
            fore_angle = upper_angle + u(-3, 12)
            elbow = joint + upper * _direction(upper_angle, side)
            wrist = elbow + fore * _direction(fore_angle, side)
        elif mode == "raised":
            upper_angle = u(100, 150)
            fore_angle = min(upper_angle + u(10, 45), 190.0)
            elbow = joint + upper * _direction(upper_angle, side)
            wrist = elbow + fore * _direction(fore_angle, side)
        elif mode == "crossed":
            # Folded arms: upper arms hang by the torso, forearms reach across it to the other side.
            elbow = joint + upper * _direction(u(-2, 10), side)
            target = np.array(
                [centre_x - side * u(4, 26), elbow[1] - cross_height + side * cross_gap / 2]
            )
            towards = target - elbow
            wrist = elbow + fore * towards / float(np.hypot(*towards))
        else:  # hands on hips: the hand rests on the waist, elbow out
            target = np.array([centre_x + side * (waist_half + u(0, 4)), levels[3] + u(-10, 4)])
            elbow, wrist = _two_bone(joint, target, upper, fore, side)
        arms.append(Arm(side, joint, elbow, wrist, upper_half, fore_half, hand_length))
        angles.append(
            {"mode": mode, "elbow": [_r(v) for v in elbow], "wrist": [_r(v) for v in wrist]}
        )
    arm_order = (0, 1) if pose != "crossed" or rng.random() < 0.5 else (1, 0)

    hair_style = _pick(rng, HAIR_STYLES)
    hair_length = u(15, 55)
    params = {
        "size": _r(size),
        "centre_x": _r(centre_x),
        "shoulder_y": _r(shoulder_y),
        "shoulder_half": _r(shoulder_half),
        "waist_half": _r(waist_half),
        "hip_half": _r(hip_half),
        "torso": _r(torso),
        "head": [_r(head_centre[0]), _r(head_centre[1]), _r(head_rx), _r(head_ry)],
        "skin": [int(round(v)) for v in skin],
        "hair": {
            "style": hair_style,
            "colour": hair_name,
            "rgb": [int(round(v)) for v in hair],
            "length": _r(hair_length),
        },
        "trousers": {"colour": trousers_name, "rgb": [int(round(v)) for v in trousers]},
        "background": [int(round(v)) for v in background],
        "pose": pose,
        "arms": angles,
        "arm_front": "right" if arm_order[1] == 1 else "left",
    }
    return Body(
        params,
        centre_x,
        shoulder_y,
        levels,
        half_widths,
        neck_half,
        head_centre,
        (head_rx, head_ry),
        (arms[0], arms[1]),
        arm_order,
    )


def arm_field(arm: Arm, margin: float) -> ArmField:
    """Arm coordinates over the region within `margin` px of the arm (for sleeves and skin)."""
    points = np.stack([arm.joint, arm.elbow, arm.wrist])
    box = box_around(points, margin=margin)
    xs, ys = GRID_X[box], GRID_Y[box]
    bones = []
    for start, end in ((arm.joint, arm.elbow), (arm.elbow, arm.wrist)):
        vector = end - start
        length = float(np.hypot(*vector))
        along_unit = vector / max(length, 1e-6)
        # Inner normal: towards the armpit for an arm hanging down, whichever side it is on.
        inner = -arm.side * np.array([along_unit[1], -along_unit[0]])
        dx, dy = xs - np.float32(start[0]), ys - np.float32(start[1])
        along = dx * np.float32(along_unit[0]) + dy * np.float32(along_unit[1])
        across = dx * np.float32(inner[0]) + dy * np.float32(inner[1])
        clipped = np.clip(along, 0, length)
        distance = np.hypot(along - clipped, across)
        bones.append((along, across, distance, length))
    (along1, across1, distance1, length1), (along2, across2, distance2, _) = bones
    first = distance1 <= distance2
    elbow_distance = np.hypot(xs - np.float32(arm.elbow[0]), ys - np.float32(arm.elbow[1]))
    # Around the outside of the elbow, measure radially so the two bones join without a seam.
    across1 = np.where(along1 > length1, np.sign(across1) * elbow_distance, across1)
    across2 = np.where(along2 < 0, np.sign(across2) * elbow_distance, across2)
    u = np.where(first, np.minimum(along1, length1), length1 + np.maximum(along2, 0))
    return ArmField(
        box,
        u.astype(np.float32),
        np.where(first, across1, across2).astype(np.float32),
        np.where(first, distance1, distance2).astype(np.float32),
    )


def arm_skin(arm: Arm, field: ArmField) -> Layer:
    """Coverage of the bare arm (a tapered capsule along both bones)."""
    half = arm.half_width(field.u)
    return Layer(np.clip(half - field.skin_distance + 0.5, 0, 1).astype(np.float32), field.box)


def paint_arm(canvas: Canvas, body: Body, arm: Arm, field: ArmField, skin_layer: Layer) -> None:
    """Shadow on what is behind the arm, then the arm's skin with cylinder shading."""
    shadow = np.roll(gaussian_blur(skin_layer.alpha, 2.5), (2, 1), axis=(0, 1))
    canvas.shade(1.0 - 0.3 * shadow * (1.0 - skin_layer.alpha), skin_layer.box)
    half = arm.half_width(field.u)
    roundness = np.clip(field.across / half, -1, 1)
    shading = (1.0 - 0.2 * roundness**2 - 0.06 * roundness)[..., None]
    canvas.paint(skin_layer, body.skin * shading, ARM)


def paint_hand(canvas: Canvas, body: Body, arm: Arm) -> None:
    direction = arm.wrist - arm.elbow
    direction = direction / max(float(np.hypot(*direction)), 1e-6)
    angle = math.degrees(math.atan2(direction[1], direction[0]))
    centre = arm.wrist + direction * arm.hand_length * 0.42
    canvas.paint(
        ellipse_layer(centre, (arm.hand_length * 0.55, arm.fore_half * 1.12), angle),
        scaled(body.skin, 0.96),
        ARM,
    )
    thumb = (
        arm.wrist
        + direction * arm.hand_length * 0.25
        + np.array([-direction[1], direction[0]]) * (arm.fore_half * 0.9 * -arm.side)
    )
    canvas.paint(
        ellipse_layer(thumb, (arm.hand_length * 0.28, arm.fore_half * 0.45), angle + 25 * arm.side),
        scaled(body.skin, 0.9),
        ARM,
    )


def _mirror_polygon(left: np.ndarray, centre_x: float) -> np.ndarray:
    right = left[::-1].copy()
    right[:, 0] = 2 * centre_x - right[:, 0]
    return np.concatenate([left, right])


def draw_body(body: Body) -> Canvas:
    """Everything of the person that lies behind the garment: background, hair, trousers, skin, head."""
    p = body.params
    cx, sy, lv = body.centre_x, body.shoulder_y, body.levels
    shoulder, waist, hip = p["shoulder_half"], p["waist_half"], p["hip_half"]
    skin = body.skin
    background = np.asarray(p["background"], np.float32)
    gradient = 1.0 + 0.035 * (0.5 - GRID_Y / HEIGHT) - 0.02 * ((GRID_X - WIDTH / 2) / WIDTH) ** 2
    canvas = Canvas(background * gradient[..., None])
    hx, hy = body.head_centre
    rx, ry = body.head_axes
    hair = np.asarray(p["hair"]["rgb"], np.float32)
    style = p["hair"]["style"]

    if style in ("bob", "long_back", "long_front"):
        bottom = hy + ry * 0.9 if style == "bob" else sy + p["hair"]["length"] * 0.6
        back = np.array(
            [
                [hx - rx * 1.22, hy - ry * 0.2],
                [hx - rx * 1.3, bottom],
                [hx + rx * 1.3, bottom],
                [hx + rx * 1.22, hy - ry * 0.2],
            ]
        )
        canvas.paint(polygon_layer(back), scaled(hair, 0.85), HAIR)
        canvas.paint(
            ellipse_layer((hx, hy - ry * 0.1), (rx * 1.22, ry * 1.0)), scaled(hair, 0.85), HAIR
        )

    torso_left = np.array(
        [
            [cx - body.neck_half - 1, lv[0] - 3],
            [cx - body.neck_half - 6, lv[0] + 1.5],
            [cx - shoulder + 7, sy + 3],
            [cx - shoulder + 1.5, sy + 6.5],
            [cx - shoulder, sy + 12],
            [cx - shoulder + 4, lv[2]],
            [cx - shoulder + 4.5, lv[2] + 14],
            [cx - waist, lv[3]],
            [cx - hip, lv[4]],
            [cx - hip + 3, lv[4] + 8],
        ]
    )
    torso_layer = polygon_layer(_mirror_polygon(torso_left, cx))
    chest_shade = 1.0 - 0.12 * ((GRID_X[torso_layer.box] - cx) / shoulder) ** 2
    canvas.paint(torso_layer, skin * chest_shade[..., None], SKIN)

    crotch = lv[4] + 22 * p["torso"]
    legs_left = np.array(
        [
            [cx - waist - 0.5, lv[3] - 3],
            [cx - hip - 0.8, lv[4]],
            [cx - hip + 1.5, HEIGHT + 4],
            [cx - 2.5, HEIGHT + 4],
            [cx - 0.5, crotch],
        ]
    )
    legs = polygon_layer(_mirror_polygon(legs_left, cx))
    trousers = np.asarray(p["trousers"]["rgb"], np.float32)
    leg_centre = cx + np.sign(GRID_X[legs.box] - cx) * hip * 0.5
    leg_shade = 1.0 - 0.25 * ((GRID_X[legs.box] - leg_centre) / (hip * 0.55)) ** 2
    canvas.paint(legs, trousers * leg_shade[..., None], TROUSERS)
    seam = lines_layer([np.array([[cx, lv[3]], [cx, crotch - 2]])], 1)
    canvas.paint(Layer(seam.alpha * 0.5, seam.box), scaled(trousers, 0.6), TROUSERS)

    chin = hy + ry
    neck = np.array(
        [
            [cx - body.neck_half, chin - 8],
            [cx - body.neck_half - 0.5, lv[0] + 2],
            [cx + body.neck_half + 0.5, lv[0] + 2],
            [cx + body.neck_half, chin - 8],
        ]
    )
    canvas.paint(polygon_layer(neck), scaled(skin, 0.95), SKIN)
    under_chin = ellipse_layer((hx, chin + 1), (body.neck_half + 1.5, 4.0))
    canvas.paint(Layer(under_chin.alpha * 0.6, under_chin.box), scaled(skin, 0.78), SKIN)
    for side in (-1, 1):
        canvas.paint(
            ellipse_layer((hx + side * rx * 0.96, hy + ry * 0.05), (3.2, 6.0)),
            scaled(skin, 0.9),
            SKIN,
        )
    head = ellipse_layer((hx, hy), (rx, ry))
    face_light = 1.0 + 0.06 * (1.0 - ((GRID_X[head.box] - hx + rx * 0.2) / rx) ** 2)
    canvas.paint(head, skin * np.clip(face_light, 0.9, 1.08)[..., None], SKIN)

    features = [
        (ellipse_layer((hx - rx * 0.36, hy + ry * 0.1), (2.3, 1.3)), (45, 34, 32), 1.0),
        (ellipse_layer((hx + rx * 0.36, hy + ry * 0.1), (2.3, 1.3)), (45, 34, 32), 1.0),
        (
            lines_layer(
                [np.array([[hx - rx * 0.55, hy - ry * 0.06], [hx - rx * 0.18, hy - ry * 0.1]])], 1
            ),
            tuple(scaled(hair, 0.8)),
            0.7,
        ),
        (
            lines_layer(
                [np.array([[hx + rx * 0.18, hy - ry * 0.1], [hx + rx * 0.55, hy - ry * 0.06]])], 1
            ),
            tuple(scaled(hair, 0.8)),
            0.7,
        ),
        (
            lines_layer([np.array([[hx + 0.5, hy + ry * 0.18], [hx - 0.5, hy + ry * 0.38]])], 1),
            tuple(scaled(skin, 0.82)),
            0.5,
        ),
        (
            ellipse_layer((hx, hy + ry * 0.58), (rx * 0.22, 1.3)),
            tuple(mix(scaled(skin, 0.72), (170, 60, 60), 0.3)),
            0.9,
        ),
    ]
    for layer, colour, strength in features:
        canvas.paint(Layer(layer.alpha * strength, layer.box), colour, SKIN)

    cap = ellipse_layer((hx, hy - ry * 0.22), (rx * 1.08, ry * 0.86))
    face = ellipse_layer((hx, hy + ry * 0.22), (rx * 0.94, ry * 0.86))
    face_in_cap = np.zeros_like(cap.alpha)
    _paste(face_in_cap, cap.box, face)
    canvas.paint(Layer(np.clip(cap.alpha - face_in_cap, 0, 1), cap.box), hair, HAIR)
    if style == "bun":
        canvas.paint(
            ellipse_layer((hx, hy - ry * 0.98), (rx * 0.45, rx * 0.42)), scaled(hair, 0.95), HAIR
        )
    return canvas


def _paste(target: np.ndarray, target_box: tuple[slice, slice], layer: Layer) -> None:
    """Copy `layer`'s coverage into `target` (a crop at `target_box`) where the two regions overlap."""
    y0 = max(target_box[0].start, layer.box[0].start)
    y1 = min(target_box[0].stop, layer.box[0].stop)
    x0 = max(target_box[1].start, layer.box[1].start)
    x1 = min(target_box[1].stop, layer.box[1].stop)
    if y1 <= y0 or x1 <= x0:
        return
    target[
        y0 - target_box[0].start : y1 - target_box[0].start,
        x0 - target_box[1].start : x1 - target_box[1].start,
    ] = layer.alpha[
        y0 - layer.box[0].start : y1 - layer.box[0].start,
        x0 - layer.box[1].start : x1 - layer.box[1].start,
    ]


def front_hair(body: Body) -> Layer | None:
    """Long hair falling over the shoulders in front of the garment, or None."""
    p = body.params
    if p["hair"]["style"] != "long_front":
        return None
    hx, hy = body.head_centre
    rx, ry = body.head_axes
    bottom = body.shoulder_y + p["hair"]["length"] * 0.7
    strands = []
    for side in (-1, 1):
        outer = hx + side * rx * 1.2
        inner = hx + side * rx * 0.85
        strands.append(
            np.array(
                [
                    [inner, hy + ry * 0.3],
                    [outer, hy + ry * 0.2],
                    [outer + side * 5, body.shoulder_y],
                    [outer + side * 2, bottom],
                    [inner + side * 3, bottom - 4],
                    [inner + side * 1, body.shoulder_y - 2],
                ]
            )
        )
    return polygon_layer(*strands)


def paint_front_hair(canvas: Canvas, body: Body) -> None:
    layer = front_hair(body)
    if layer is not None:
        canvas.paint(layer, np.asarray(body.params["hair"]["rgb"], np.float32) * 0.92, HAIR)
