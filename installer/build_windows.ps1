<#
.SYNOPSIS
Windows installer: the PyInstaller bundle as dist\openvino-tryon-<version>-windows-x64-setup.exe.

.DESCRIPTION
The steps of installer/build_linux.sh, on Windows: a runtime-only venv in build\venv (no torch),
the bundle from installer\tryon.spec, then Inno Setup 6 (iscc) on installer\windows\tryon.iss.
Needs Python 3.10+ (py launcher or python on PATH) and Inno Setup 6 (https://jrsoftware.org,
or `choco install innosetup`).

.EXAMPLE
powershell -ExecutionPolicy Bypass -File installer\build_windows.ps1
#>
param(
    # An interpreter with the runtime and PyInstaller installed (default: build\venv, made here).
    [string]$Python = "",
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
if (-not $Iscc) { Fail "Inno Setup 6 not found (install it, or choco install innosetup)" }

if (-not $Python) {
    # A venv with the runtime only: torch never comes near the bundle.
    $Python = Join-Path $Repo "build\venv\Scripts\python.exe"
    if (-not (Test-Path $Python)) {
        if (Get-Command py -ErrorAction SilentlyContinue) { py -3 -m venv build\venv } else { python -m venv build\venv }
        Invoke-Checked "creating build\venv"
    }
    & $Python -m pip install --quiet -c constraints.txt -e ".[build]"
    Invoke-Checked "pip install"
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
