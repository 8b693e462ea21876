<#
.SYNOPSIS
Windows installer: the PyInstaller bundle as dist\openvino-tryon-<version>-windows-x64-setup.exe.

.DESCRIPTION
The steps of installer/build_linux.sh, on Windows: a runtime-only venv in build\venv (no torch),
the bundle from installer\tryon.spec, the correlation kernels compiled into it for each x86-64
level, then Inno Setup (iscc) on installer\windows\tryon.iss. Needs a Python that numba and
openvino publish wheels for (3.10 to 3.14 in 2026; 3.11 through the py launcher by default, as in
the workflow) and Inno Setup 6.3 or newer (https://jrsoftware.org, or `choco install innosetup`).

.EXAMPLE
powershell -ExecutionPolicy Bypass -File installer\build_windows.ps1
#>
param(
    # An interpreter with the runtime and PyInstaller installed (default: build\venv, made here).
    [string]$Python = "",
    # The interpreter build\venv is made with (default: `py -3.11`, else python on PATH). Not
    # simply the newest one installed (`py -3`): numba and openvino publish wheels for a new
    # Python months after its release.
    [string]$BasePython = "",
    # Folder bundled as models\; must hold default\ (default: models\, or $env:TRYON_MODELS_DIR).
    [string]$Models = $(if ($env:TRYON_MODELS_DIR) { $env:TRYON_MODELS_DIR } else { "" }),
    # Folder bundled as assets\ (default: assets\, or $env:TRYON_ASSETS_DIR).
    [string]$Assets = $(if ($env:TRYON_ASSETS_DIR) { $env:TRYON_ASSETS_DIR } else { "" })
)
$ErrorActionPreference = "Stop"
$Repo = Split-Path -Parent $PSScriptRoot
Set-Location $Repo

function Fail([string]$Message) {
    Write-Error "build_windows.ps1: $Message" -ErrorAction Continue
    exit 1
}

# Native commands do not stop the script on failure by themselves.
function Invoke-Checked([string]$What) {
    if ($LASTEXITCODE -ne 0) { Fail "$What failed (exit code $LASTEXITCODE)" }
}

if (-not $Models) { $Models = Join-Path $Repo "models" }
if (-not $Assets) { $Assets = Join-Path $Repo "assets" }
$Models = [IO.Path]::GetFullPath($Models)
$Assets = [IO.Path]::GetFullPath($Assets)
if (-not (Test-Path (Join-Path $Models "default\metadata.json"))) {
    Fail "no shipped model: $Models\default\metadata.json is missing (export the default model there, or pass -Models DIR)"
}
if (-not (Test-Path $Assets -PathType Container)) { Fail "no assets folder at $Assets (pass -Assets DIR)" }

$Iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $Iscc) {
    $Iscc = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
              "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe") |
        Where-Object { Test-Path $_ } | Select-Object -First 1
}
if (-not $Iscc) { Fail "Inno Setup 6 not found (install 6.3 or newer, or choco install innosetup)" }

if (-not $Python) {
    # A venv with the runtime only: torch never comes near the bundle.
    $Python = Join-Path $Repo "build\venv\Scripts\python.exe"
    if (-not (Test-Path $Python)) {
        $BaseArgs = @()
        if (-not $BasePython) {
            $BasePython = "python"
            if (Get-Command py -ErrorAction SilentlyContinue) {
                # Windows PowerShell turns a native command's redirected stderr into errors.
                $ErrorActionPreference = "Continue"
                & py -3.11 -c "pass" 2>$null
                if ($LASTEXITCODE -eq 0) { $BasePython = "py"; $BaseArgs = @("-3.11") }
                $ErrorActionPreference = "Stop"
            }
        }
        & $BasePython @BaseArgs -m venv build\venv
        Invoke-Checked "creating build\venv with $BasePython $BaseArgs"
    }
    & $Python -m pip install --quiet -c constraints.txt -e ".[build]"
    if ($LASTEXITCODE -ne 0) {
        $PythonVersion = (& $Python -c "import platform; print(platform.python_version())")
        Fail "pip install failed in build\venv (Python $PythonVersion: do numba and openvino have wheels for it? Pass -BasePython)"
    }
}
& $Python -m PyInstaller --version | Out-Null
Invoke-Checked "$Python -m PyInstaller (pip install -c constraints.txt -e "".[build]"")"

# tryon_app/__init__.py holds nothing but the version (no quotes here: Windows PowerShell 5.1 mangles
# quotes inside native-command arguments).
$Version = (& $Python -c "import tryon_app; print(tryon_app.__version__)").Trim()
Invoke-Checked "reading the version"
$Bundle = Join-Path $Repo "build\pyinstaller\openvino-tryon"

Write-Host "== PyInstaller bundle (models: $Models, assets: $Assets)"
$env:TRYON_MODELS_DIR = $Models
$env:TRYON_ASSETS_DIR = $Assets
& $Python -m PyInstaller installer\tryon.spec --noconfirm --log-level WARN `
    --distpath build\pyinstaller --workpath build\pyinstaller-work
Invoke-Checked "PyInstaller"
# The bundle must run on its own: check the shipped models with it.
& (Join-Path $Bundle "tryon.exe") models
Invoke-Checked "the bundle's tryon.exe models"

# The correlation kernels, compiled for each x86-64 level this machine runs (kernels.precompiled),
# by each executable: numba stamps a frozen program's cache with its executable, so the seed of
# tryon.exe is _internal\numba-seed\tryon\<level> and that of tryon-gui.exe ...\tryon-gui\<level>.
# An executable whose seed holds a level folder compiles for that level instead of for this exact
# CPU (and numba would not take an empty NUMBA_CPU_FEATURES from here as it does on Linux: Windows
# drops a variable set to ""), so each level is compiled with only its own, empty, folder there.
$Levels = @((& $Python -c "from kernels.precompiled import runnable_levels; print(*runnable_levels())") -split " " | Where-Object { $_ })
Invoke-Checked "listing the x86-64 levels"
$SeedRoot = Join-Path $Bundle "_internal\numba-seed"
$Seeds = Join-Path $Repo "build\numba-seed"
Remove-Item -Recurse -Force $SeedRoot, $Seeds -ErrorAction SilentlyContinue
Remove-Item Env:NUMBA_CPU_NAME, Env:NUMBA_CPU_FEATURES -ErrorAction SilentlyContinue
foreach ($Stem in @("tryon", "tryon-gui")) {
    foreach ($Level in $Levels) {
        Write-Host "== correlation kernels of $Stem.exe for $Level"
        New-Item -ItemType Directory -Force -Path (Join-Path $SeedRoot "$Stem\$Level") | Out-Null
        $env:NUMBA_CACHE_DIR = Join-Path ([IO.Path]::GetTempPath()) "tryon-numba-$([guid]::NewGuid())"
        # Start-Process -Wait also waits for the windowed tryon-gui.exe, which & would not.
        $Warmup = Start-Process (Join-Path $Bundle "$Stem.exe") -ArgumentList "warmup" -NoNewWindow -Wait -PassThru
        if ($Warmup.ExitCode -ne 0) { Fail "$Stem.exe could not compile its kernels for $Level" }
        & $Python -c "import sys; from pathlib import Path; from kernels.precompiled import build_seed; sys.exit(0 if build_seed(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]) else 1)" $env:NUMBA_CACHE_DIR (Join-Path $Seeds $Stem) $Level
        Invoke-Checked "collecting the kernel cache of $Stem.exe for $Level"
        Remove-Item -Recurse -Force $env:NUMBA_CACHE_DIR, (Join-Path $SeedRoot $Stem)
    }
}
Remove-Item Env:NUMBA_CACHE_DIR -ErrorAction SilentlyContinue
Remove-Item -Recurse -Force $SeedRoot -ErrorAction SilentlyContinue
if (Test-Path $Seeds) { Move-Item $Seeds $SeedRoot }

Write-Host "== installer ($Iscc)"
New-Item -ItemType Directory -Force -Path dist | Out-Null
& $Iscc /Q "/DAppVersion=$Version" "/DBundleDir=$Bundle" "/DOutputDir=$(Join-Path $Repo 'dist')" `
    installer\windows\tryon.iss
Invoke-Checked "iscc"

$Size = (Get-ChildItem $Bundle -Recurse -File | Measure-Object -Property Length -Sum).Sum / 1MB
Write-Host ("{0:N0} MB  bundle (unpacked)" -f $Size)
Get-ChildItem "dist\openvino-tryon-$Version-windows-x64-setup.exe" | ForEach-Object {
    Write-Host ("{0:N0} MB  {1}" -f ($_.Length / 1MB), $_.FullName)
}
