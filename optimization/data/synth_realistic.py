"""Realistic synthetic try-on pairs: studio photos of people in clothes, with exact ground truth.

A pair is one sampled scene photographed twice: the person wearing one garment (the input) and the
same person, pose, light and camera wearing the requested garment (the ground truth), plus the
requested garment's product photo and its silhouette. Everything the garment swap does not touch
is painted by the same code from the same numbers, so it is bit-identical in both photos (the
camera's noise realisation included, see `synth_camera`), and the garment masks are the owners of
the painted pixels.

Sampling is split from painting: `sample_pair` draws every number of a pair from its generator in
a fixed order (person, garments, drapes, light, cameras, backdrop, framing); `render_realistic`
paints it at any size and in any scene. The scene's own choices (aspect ratio, placement) come
from a second generator keyed by the scene, so the person is the same in every scene.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimization.data.synth_apparel import GarmentSpec, sample_garment
from optimization.data.synth_atlas import paint_atlas
from optimization.data.synth_backdrop import Backdrop, paint_backdrop, sample_backdrop
from optimization.data.synth_camera import Camera, develop, sample_camera
from optimization.data.synth_canvas import GARMENT, Canvas, Layer, Sprite, View, shadow_of
from optimization.data.synth_face import head
from optimization.data.synth_figure import Figure, build_figure
from optimization.data.synth_folds import Drape, sample_drape
from optimization.data.synth_framing import (
    REFERENCE_HEIGHT,
    SCENES,
    Framing,
    Shot,
    frame_shot,
    sample_framing,
    viton_box,
)
from optimization.data.synth_hair import back as back_hair
from optimization.data.synth_hair import cap as hair_cap
from optimization.data.synth_hair import front as front_hair
from optimization.data.synth_light import Light, sample_light, shadow_offset
from optimization.data.synth_lower import lower_garment, shoes
from optimization.data.synth_noise import lattice
from optimization.data.synth_pattern import build_pattern
from optimization.data.synth_person import Person, sample_person
from optimization.data.synth_product import photograph_product, product_view
from optimization.data.synth_sampling import jsonable
from optimization.data.synth_skin import arm as arm_skin
from optimization.data.synth_skin import hand, legs, neck, torso
from optimization.data.synth_wear import Garment, wear_sleeve, wear_torso

_SCENE_KEYS = {scene: number for number, scene in enumerate(SCENES)}
_ATLAS_OVERSAMPLE = 1.3


@dataclass(frozen=True)
class PairSpec:
    """Every random choice of one pair."""

    person: Person
    requested: GarmentSpec
    worn: GarmentSpec
    requested_drape: Drape
    worn_drape: Drape
    light: Light
    camera: Camera
    product_camera: Camera
    backdrop: Backdrop
    framing: Framing
    texture_seed: int


def sample_pair(rng: np.random.Generator) -> PairSpec:
    """Draw a pair: the requested garment, then one of another sleeve length most of the time."""
    person = sample_person(rng)
    requested = sample_garment(rng)
    avoid = requested.cut.sleeve_class if rng.random() < 0.65 else None
    worn = sample_garment(rng, avoid_sleeve=avoid)
    bust = person.body.bust
    requested_drape = sample_drape(rng, requested.cut, person.pose, bust)
    worn_drape = sample_drape(rng, worn.cut, person.pose, bust)
    light = sample_light(rng)
    camera = sample_camera(rng)
    product_camera = sample_camera(rng)
    product_camera = replace(
        product_camera,
        noise=product_camera.noise * 0.4,
        vignette=0.0,
        blur=product_camera.blur * 0.6,
    )
    return PairSpec(
        person=person,
        requested=requested,
        worn=worn,
        requested_drape=requested_drape,
        worn_drape=worn_drape,
        light=light,
        camera=camera,
        product_camera=product_camera,
        backdrop=sample_backdrop(rng),
        framing=sample_framing(rng),
        texture_seed=int(rng.integers(2**31)),
    )


def _dress(
    base: Canvas, view: View, figure: Figure, garment: Garment, light: Light, shared: dict
) -> Canvas:
    """The base picture with `garment` worn: garment, neck, hair, arms and head in depth order."""
    canvas = base.copy()
    back, front = wear_torso(view, figure, garment, light)
    if back is not None:
        canvas.paint(back)
    canvas.paint(shared["neck"])
    if front is not None:
        hem_shadow = shadow_of(view, front.layer, shadow_offset(light, 1.2), 0.5)
        canvas.darken(hem_shadow, light.shadow)
        canvas.paint(front)
    if garment.drape.tucked and shared["lower"] is not None and front is not None:
        # Tucked in: the waistband and everything below it lie over the garment's hem and its
        # shadow (repainted only there; elsewhere the base already shows them).
        lower = shared["lower"]
        box = lower.layer.box
        under = (front.layer.within(box) > 0) | (hem_shadow.within(box) > 0)
        over = lower.layer.alpha * under
        canvas.paint(Sprite(Layer(over, lower.layer.box), lower.rgb, lower.owner))
    if shared["front_hair"] is not None:
        sprite = shared["front_hair"]
        canvas.darken(shadow_of(view, sprite.layer, shadow_offset(light, 1.0), 0.6), light.shadow)
        canvas.paint(sprite)
    pose = figure.person.pose
    for index in (1 - pose.front_arm, pose.front_arm):
        skin = shared["arms"][index]
        depth = 5.0 if figure.arms[index].mode in ("down", "hip") else 3.0
        canvas.darken(
            shadow_of(view, skin.layer, shadow_offset(light, depth), 1.0), light.shadow * 0.8
        )
        canvas.paint(skin)
        sleeve = wear_sleeve(view, figure, garment, index, light)
        if sleeve is not None:
            canvas.darken(
                shadow_of(view, sleeve.layer, shadow_offset(light, 0.8), 0.4), light.shadow * 0.7
            )
            canvas.paint(sleeve)
        if shared["hands"][index] is not None:
            canvas.paint(shared["hands"][index])
    canvas.paint(shared["head"])
    if shared["cap"] is not None:
        canvas.paint(shared["cap"])
    return canvas


def _garment(spec: GarmentSpec, drape: Drape, resolution: float, seed: int, key: int) -> Garment:
    pattern = build_pattern(spec.cut)
    atlas = paint_atlas(spec, pattern, resolution, np.random.default_rng([seed, key]))
    return Garment(spec, pattern, atlas, drape)


def _drape_summary(drape: Drape) -> dict:
    """The drape without its fold polylines (they follow from the seed; the record stays small)."""
    return {
        "wrap": drape.wrap,
        "sway": drape.sway,
        "torso_folds": len(drape.torso),
        "sleeve_folds": [len(folds) for folds in drape.sleeves],
    }


def describe_only(
    rng: np.random.Generator, scene_rng: np.random.Generator, size: tuple[int, int], scene: str
) -> dict:
    """What `render_realistic` with these generators would record, without painting (fast)."""
    pair = sample_pair(rng)
    figure = build_figure(pair.person, pair.framing.eye_level, pair.framing.distance)
    shot = frame_shot(scene, figure, viton_box(figure, pair.framing), size, scene_rng)
    return describe(pair, shot, size)


def describe(pair: PairSpec, shot: Shot, size: tuple[int, int]) -> dict:
    """The JSON-ready description of a rendered pair."""
    return {
        "style": "realistic",
        "scene": shot.scene,
        "size": [shot.view.width, shot.view.height],
        "aspect": shot.aspect,
        "viton_box": [round(v, 3) for v in shot.box],
        "jpeg_quality": pair.camera.jpeg_quality,
        "product_jpeg_quality": pair.product_camera.jpeg_quality,
        "product_size": [size[1], size[0]],
        **jsonable(
            {
                "subject": pair.person,
                "garment": pair.requested,
                "person_garment": pair.worn,
                "drape": _drape_summary(pair.requested_drape),
                "person_drape": _drape_summary(pair.worn_drape),
                "light": pair.light,
                "camera": pair.camera,
                "product_camera": pair.product_camera,
                "backdrop": pair.backdrop,
                "framing": pair.framing,
                "texture_seed": pair.texture_seed,
            }
        ),
    }


def render_realistic(
    rng: np.random.Generator,
    scene_rng: np.random.Generator,
    size: tuple[int, int] = (256, 192),
    scene: str = "viton",
) -> dict:
    """Render one realistic pair.

    Args:
        rng: the pair's generator (everything about the people, garments, light and cameras).
        scene_rng: the scene's generator (aspect ratio and placement of non-VITON scenes).
        size: (height, width) of the product photo and of a `viton` photo; other scenes keep about
            this many pixels in their own aspect ratio.
        scene: one of SCENES.

    Returns:
        `person`, `gt` (H, W, 3) uint8 RGB photos of the scene; `cloth` (size, 3) uint8 product
        photo and `edge` its silhouette (255 inside); `gt_cloth_mask`, `person_cloth_mask` (H, W)
        uint8, 255 where the requested (resp. the worn) garment is visible; `changed` (H, W) uint8,
        255 where person and ground truth differ; `viton_box` (x, y, w, h) in pixel edges;
        `params`: the JSON-ready description.
    """
    pair = sample_pair(rng)
    figure = build_figure(pair.person, pair.framing.eye_level, pair.framing.distance)
    box_cm = viton_box(figure, pair.framing)
    shot = frame_shot(scene, figure, box_cm, size, scene_rng)
    view = shot.view
    light = pair.light
    seed = pair.texture_seed

    requested_pattern = build_pattern(pair.requested.cut)
    product = product_view(pair.requested, requested_pattern, *size)
    requested = _garment(
        pair.requested,
        pair.requested_drape,
        max(product.scale, view.scale) * _ATLAS_OVERSAMPLE,
        seed,
        0,
    )
    worn = _garment(pair.worn, pair.worn_drape, view.scale * _ATLAS_OVERSAMPLE, seed, 1)

    def texture(key: int) -> np.ndarray:
        return lattice(np.random.default_rng([seed, 10 + key]))

    canvas = paint_backdrop(view, figure, pair.backdrop)
    hair_behind = back_hair(view, figure, light, texture(0))
    if hair_behind is not None:
        canvas.paint(hair_behind)
    lower = lower_garment(view, figure, light, np.random.default_rng([seed, 20]))
    if pair.person.lower.kind == "skirt":
        bare = legs(view, figure, light, texture(1), pair.person.lower.hem - 3.0)
        if bare is not None:
            canvas.paint(bare)
    feet = shoes(view, figure, light)
    if feet is not None:
        canvas.paint(feet)
    canvas.paint(torso(view, figure, light, texture(2)))
    if lower is not None:
        canvas.paint(lower)
    arms = [arm_skin(view, figure, bones, light, texture(3))[0] for bones in figure.arms]
    shared = {
        "lower": lower,
        "neck": neck(view, figure, light, texture(2)),
        "front_hair": front_hair(view, figure, light, texture(0)),
        "arms": arms,
        "hands": [hand(view, figure, bones, light) for bones in figure.arms],
        "head": head(view, figure, light, texture(4)),
        "cap": hair_cap(view, figure, light, texture(0)),
    }
    before = _dress(canvas, view, figure, worn, light, shared)
    after = _dress(canvas, view, figure, requested, light, shared)
    # The key light dims a little from head to foot.
    _, ys = view.grid(view.frame)
    dimming = 1.0 - np.float32(light.falloff) * np.clip((ys[:, :1] - figure.crown) / 150.0, 0, 1)
    before.rgb *= dimming[..., None]
    after.rgb *= dimming[..., None]

    reference = max(shot.reference_scale, 1.0)
    person = develop(pair.camera, before.rgb, reference)
    truth = develop(pair.camera, after.rgb, reference)
    photo = photograph_product(
        pair.requested, requested.pattern, requested.atlas, *size, np.random.default_rng([seed, 2])
    )
    cloth = develop(pair.product_camera, photo.rgb, max(size[0] / REFERENCE_HEIGHT, 1.0))
    return {
        "person": person,
        "cloth": cloth,
        "edge": photo.edge,
        "gt": truth,
        "gt_cloth_mask": np.where(after.owner == GARMENT, 255, 0).astype(np.uint8),
        "person_cloth_mask": np.where(before.owner == GARMENT, 255, 0).astype(np.uint8),
        "changed": np.where(np.any(person != truth, axis=2), 255, 0).astype(np.uint8),
        "viton_box": shot.box,
        "params": describe(pair, shot, size),
    }


def scene_rng(seed: int, index: int, scene: str) -> np.random.Generator:
    """The generator of a pair's scene choices."""
    return np.random.default_rng([int(seed), int(index), 1000 + _SCENE_KEYS[scene]])
