; Windows installer (Inno Setup 6) for the PyInstaller bundle. installer\build_windows.ps1 runs:
;   iscc /DAppVersion=0.1.0 /DBundleDir=build\pyinstaller\openvino-tryon /DOutputDir=dist installer\windows\tryon.iss
; Per-user install without administrator rights (into %LOCALAPPDATA%\Programs), a Start-menu entry,
; an optional desktop icon, and an uninstaller listed under Settings > Apps.

; ArchitecturesAllowed=x64compatible below is Inno Setup 6.3's; older compilers reject it.
#if VER < EncodeVer(6,3,0)
  #error Inno Setup 6.3 or newer is needed
#endif

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\build\pyinstaller\openvino-tryon"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
; The uninstaller and upgrades find earlier installs by this id: never change it.
AppId={{6F0C2A4E-8B1D-4E57-9A3C-2D5B7E91C4A8}
AppName=Virtual Try-On
AppVersion={#AppVersion}
AppPublisher=openvino-tryon
AppComments=Offline virtual try-on on the CPU (PF-AFN through OpenVINO)
DefaultDirName={autopf}\OpenVINO Try-On
DefaultGroupName=Virtual Try-On
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename=openvino-tryon-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\assets\icons\openvino-tryon.ico
UninstallDisplayIcon={app}\tryon-gui.exe
UninstallDisplayName=Virtual Try-On
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Virtual Try-On"; Filename: "{app}\tryon-gui.exe"; Comment: "See yourself in a garment"
Name: "{autodesktop}\Virtual Try-On"; Filename: "{app}\tryon-gui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\tryon-gui.exe"; Description: "{cm:LaunchProgram,Virtual Try-On}"; Flags: nowait postinstall skipifsilent

[InstallDelete]
; An upgrade replaces the whole bundle: files a newer build no longer ships must not linger.
Type: filesandordirs; Name: "{app}\_internal"
